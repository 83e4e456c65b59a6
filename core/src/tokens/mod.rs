//! Upload tokens: what a token is, how callers ask for them, the listing's order and pages,
//! where their records live, and the token endpoints.

pub mod handlers;
pub mod list;
pub mod query;
pub mod store;
pub mod token;
