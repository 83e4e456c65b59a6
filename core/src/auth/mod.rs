//! Who is calling: API keys, and the bearer tokens made from them.

mod bearer;

pub use bearer::*;
