//! The HTTP contract, free of any runtime: routing, requests and answers, problem JSON, CORS,
//! and the one dispatcher every endpoint goes through. The Worker adapts its request to
//! [`Request`] and a [`Body`], and sends the [`Answer`] back.

pub mod cors;
mod dispatch;
pub mod problem;
mod request;
mod response;

pub use dispatch::*;
pub use request::*;
pub use response::*;
