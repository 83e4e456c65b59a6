//! Delegated uploads and the videos they make: the upload rules, video records and views, where
//! their pieces live in R2, and the upload, video and cleanup handlers.

pub mod cleanup;
pub mod keys;
pub mod policy;
pub mod range;
pub mod read;
pub mod record;
pub mod rules;
mod state;
pub mod upload;

#[cfg(test)]
mod range_tests;
#[cfg(test)]
mod rules_tests;
