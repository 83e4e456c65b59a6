//! Who is calling: API keys, the bearer tokens made from them, and the endpoints that issue
//! those.

mod bearer;
pub mod handlers;
mod keys;

pub use bearer::*;
pub use keys::*;
