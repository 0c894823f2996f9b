//! The checkout's own rules: the layout check of ARCHITECTURE.md passes here and fails on a
//! planted violation of each of its rules.

mod layout;
