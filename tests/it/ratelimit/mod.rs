//! Rate limits with the embedded buckets.

mod buckets;
