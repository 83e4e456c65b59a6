//! The pure core of the upload-token service: the api.video-compatible contract, every rule of
//! tokens, auth, uploads and videos, and the storage interfaces they need (KV, R2, the project
//! index). Nothing here depends on the Workers runtime; time and randomness come in as
//! arguments, storage through small traits with in-memory implementations ([`testing`]).
//!
//! - [`http`]: requests and answers, routing, problem JSON, the one dispatcher.
//! - [`tokens`]: upload tokens, their validation, listing order and pages, their handlers.
//! - [`auth`]: API keys and bearer tokens.
//! - [`videos`]: upload rules, video records, the upload and video handlers, the cleanup.
//! - [`storage`]: the KV, object (R2) and project-index interfaces and key layouts.
//! - [`digest`]: the SHA-256 of an uploaded chunk, which tells an identical re-send apart.

pub mod auth;
pub mod config;
pub mod digest;
pub mod http;
pub mod ids;
pub mod project;
pub mod redact;
pub mod storage;
pub mod time;
pub mod tokens;
pub mod videos;

#[cfg(feature = "testing")]
pub mod testing;
