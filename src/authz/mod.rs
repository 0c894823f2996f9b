//! Authorization (stage 7) and list filtering (stage 10): a principal may use exactly the
//! tools, resources and prompts its permissions grant, decided from the body's `McpCall`.
//!
//! `permissions` holds roles and the `covers` rule, `policy` one upstream's compiled rules,
//! `args` argument constraints, `filter` the rewriting of `*/list` pages, `hidden` the scan for
//! definitions smuggled elsewhere in an answer.

mod args;
mod decide;
mod filter;
mod hidden;
mod page;
mod page_cache;
mod permissions;
mod policy;
mod table;

pub use args::{ArgSpec, ArgViolation};
pub use decide::{Denial, authorize, target, visible};
pub use filter::{ListFilter, Rewrite, Visible, unfilterable};
pub use page_cache::{PageCache, view_of};
pub use permissions::{ANONYMOUS_ROLE, Roles, check_granted, covers};
pub use policy::{DefaultRule, Kind, OnDeny, Policy, PolicySpec, Rule, RuleSpec, Source, Verdict, unsafe_uri};
