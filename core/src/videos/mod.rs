//! Delegated uploads and the videos they make: the upload rules, video records and views, where
//! their pieces live in R2, and the upload, video and cleanup handlers.

pub mod rules;

#[cfg(test)]
mod rules_tests;
