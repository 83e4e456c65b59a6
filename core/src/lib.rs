//! The pure core of the upload-token service: the api.video-compatible contract, validation,
//! listing, token ids, expiry, bearer-token signing and the storage interface. Nothing here
//! depends on the Workers runtime; time and randomness come in as arguments.

pub mod api;
pub mod auth;
pub mod config;
pub mod ids;
pub mod index;
pub mod kv;
pub mod list;
pub mod problem;
pub mod project;
pub mod redact;
pub mod request;
pub mod store;
pub mod time;
pub mod token;
pub mod upload;

#[cfg(feature = "testing")]
pub mod testing;
