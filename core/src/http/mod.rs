//! The HTTP contract, free of any runtime: routing, requests and answers, problem JSON, and the
//! one dispatcher every endpoint goes through.

mod dispatch;
pub mod problem;

pub use dispatch::*;
