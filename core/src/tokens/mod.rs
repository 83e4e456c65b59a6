//! Upload tokens: what a token is, the policies it may carry, how callers ask for them, the
//! listing's order, filters and pages, where their records live, and the token endpoints.

pub mod handlers;
pub mod list;
pub mod policy;
pub mod query;
pub mod store;
pub mod token;

#[cfg(test)]
mod policy_tests;
