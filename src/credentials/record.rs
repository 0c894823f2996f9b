//! `Record`: any one thing the credential store holds, tagged with its kind — the unit of a
//! backup line and of a batch import.

use serde::{Deserialize, Serialize};

use super::family::{Family, RefreshRecord};
use crate::auth::key_record::KeyRecord;
use crate::auth::revocation::Revocation;

/// One stored record (`{"kind": "key", "record": {...}}` on a backup line).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "record", rename_all = "lowercase", deny_unknown_fields)]
pub enum Record {
    Key(KeyRecord),
    Revocation(Revocation),
    Family(Family),
    Refresh(RefreshRecord),
}
