//! What the core needs from storage, as small interfaces: Workers KV ([`kv`]), R2
//! ([`objects`]) and each project's token index ([`index`]).

pub mod index;
pub mod kv;
pub mod objects;
