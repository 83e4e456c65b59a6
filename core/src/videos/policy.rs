//! Token policies on the upload path: every rule a chunk must meet because of the policy of the
//! token it is sent with, or of the token that created its video, and the refusals that say
//! so. The upload handler calls these at fixed points, from the cheapest check to the one that
//! costs a round trip:
//!
//! 1. [`check_request`], once the token is known and before a byte of the body is read: the
//!    `Origin` (403) and, for byte ranges, the declared total (413);
//! 2. [`FileLimit`], the most the body's file part may hold while it is staged (413, nothing
//!    kept);
//! 3. [`check_chunk`], once the chunk's video and size are known: the video's own origins
//!    (403), and its size with this chunk (413), before anything is written;
//! 4. [`claim_new_video`], only for a chunk that creates a video, just before it is created:
//!    one more of the token's `maxUploads`, counted atomically by the project index (403);
//! 5. [`undo_if_over`], after a chunk is stored and the video's chunks are listed afresh: a
//!    chunk that, with others stored at the same time, took the video past its size is removed
//!    again (413), so no video is ever assembled larger than its token allowed.
//!
//! A token without a policy passes every one of them without any storage call.

use super::keys::ObjectKey;
use super::record::{ChunkLimits, VideoRecord};
use super::rules::{self, invalid_token, ChunkPlan, ContentRange, StoredChunk, MAX_CHUNK};
use super::state::internal;
use crate::http::problem::ApiError;
use crate::storage::index::{Claim, TokenIndex};
use crate::storage::objects::Objects;
use crate::time::UnixSeconds;
use crate::tokens::policy::Policy;
use crate::tokens::store::TokenRecord;

/// 403: the request's `Origin` is not one the token (or the token that created the video)
/// allows; a request without `Origin` is refused alike.
pub fn origin_not_allowed() -> ApiError {
    ApiError::new(
        403,
        "upload-token-origin-not-allowed",
        "This upload token does not accept uploads from this origin.",
    )
    .named("Origin")
    .detail("The request's Origin header must be one of the token's allowedOrigins.")
}

/// 403: the token has created as many videos as its `maxUploads` allows.
pub fn max_uploads_reached(max: u32) -> ApiError {
    ApiError::new(
        403,
        "upload-token-max-uploads-reached",
        "This upload token has created as many videos as it may.",
    )
    .named("token")
    .detail(format!(
        "It may create {max} video(s); chunks of those may still be sent."
    ))
}

/// 413: the chunk would take its video past the `maxFileSize` that applies to it.
pub fn file_too_large(limit: u64) -> ApiError {
    ApiError::new(
        413,
        "upload-token-max-file-size-exceeded",
        "The video would be larger than this upload token allows.",
    )
    .named("file")
    .detail(format!("A video may hold at most {limit} bytes."))
}

/// The policy of the token a request was sent with, if its record was read.
pub fn token_policy(record: Option<&TokenRecord>) -> Option<&Policy> {
    record.map(|r| &r.token.policy)
}

/// Whether answers to a request with this token name the request's origin instead of `*`.
pub fn names_origin(record: Option<&TokenRecord>) -> bool {
    token_policy(record).is_some_and(|p| !p.allowed_origins.is_empty())
}

/// Step 1: the `Origin`, and a byte range's declared total.
pub fn check_request(
    policy: Option<&Policy>,
    origin: Option<&str>,
    range: Option<&ContentRange>,
) -> Result<(), ApiError> {
    let Some(policy) = policy else {
        return Ok(());
    };
    if !policy.allows_origin(origin) {
        return Err(origin_not_allowed());
    }
    if let (Some(limit), Some(&ContentRange::Bytes { total, .. })) = (policy.max_file_size, range) {
        if total > limit {
            return Err(file_too_large(limit));
        }
    }
    Ok(())
}

/// Step 2: the most a staged file part may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimit {
    /// The token's `maxFileSize`, when it is below the service's own limit.
    policy: Option<u64>,
}

impl FileLimit {
    pub fn of(policy: Option<&Policy>) -> Self {
        Self {
            policy: policy
                .and_then(|p| p.max_file_size)
                .filter(|&l| l < MAX_CHUNK),
        }
    }

    /// The bytes a file part may hold.
    pub fn bytes(self) -> u64 {
        self.policy.unwrap_or(MAX_CHUNK)
    }

    /// The refusal of a file part over [`Self::bytes`].
    pub fn too_large(self) -> ApiError {
        match self.policy {
            Some(limit) => file_too_large(limit),
            None => rules::too_large(),
        }
    }
}

/// The size limit of a chunk: the smaller of its token's and its video's.
fn size_limit(policy: Option<&Policy>, video: Option<&VideoRecord>) -> Option<u64> {
    [
        policy.and_then(|p| p.max_file_size),
        video.and_then(|v| v.limits.max_size),
    ]
    .into_iter()
    .flatten()
    .min()
}

/// Step 3: a chunk of `size` bytes that `plan` would store in `video` (`None`: a new one),
/// whose chunks stored so far are `stored`.
pub fn check_chunk(
    policy: Option<&Policy>,
    video: Option<&VideoRecord>,
    origin: Option<&str>,
    plan: ChunkPlan,
    stored: &[StoredChunk],
    size: u64,
) -> Result<(), ApiError> {
    if video.is_some_and(|v| !v.limits.allows_origin(origin)) {
        return Err(origin_not_allowed());
    }
    let Some(limit) = size_limit(policy, video) else {
        return Ok(());
    };
    if let ChunkPlan::Store { .. } = plan {
        let total = stored.iter().map(|c| c.size).sum::<u64>() + size;
        if total > limit {
            return Err(file_too_large(limit));
        }
    }
    Ok(())
}

/// Step 4: counts the new video against the token's `maxUploads`, if it has one.
pub async fn claim_new_video<I: TokenIndex>(
    index: &I,
    record: Option<&TokenRecord>,
    now: UnixSeconds,
) -> Result<(), ApiError> {
    let Some((record, max)) = record.and_then(|r| r.token.policy.max_uploads.map(|max| (r, max)))
    else {
        return Ok(());
    };
    let claim = index
        .claim_upload(&record.project, &record.token.token, now)
        .await
        .map_err(internal("counting an upload"))?;
    match claim {
        Claim::Granted => Ok(()),
        Claim::Exhausted => Err(max_uploads_reached(max)),
        Claim::Absent => Err(invalid_token(false)),
    }
}

/// What a new video keeps of the policy of the token that creates it.
pub fn for_new_video(record: VideoRecord, policy: Option<&Policy>) -> VideoRecord {
    let Some(policy) = policy else {
        return record;
    };
    VideoRecord {
        metadata: policy.metadata.clone(),
        limits: ChunkLimits::of(policy),
        ..record
    }
}

/// Step 5: once a chunk stored at `plan` is in and `listed` are all of its video's chunks, read
/// afresh: if together they exceed the video's limit, removes this chunk again and refuses it.
/// Two chunks stored at the same moment may both be refused; each can be sent again.
pub async fn undo_if_over<O: Objects>(
    objects: &O,
    policy: Option<&Policy>,
    video: &VideoRecord,
    plan: ChunkPlan,
    listed: &[StoredChunk],
) -> Result<(), ApiError> {
    let (Some(limit), ChunkPlan::Store { start, .. }) = (size_limit(policy, Some(video)), plan)
    else {
        return Ok(());
    };
    if listed.iter().map(|c| c.size).sum::<u64>() <= limit {
        return Ok(());
    }
    let key = ObjectKey::Chunk(video.video_id.clone(), start).to_string();
    objects
        .delete(&[key])
        .await
        .map_err(internal("removing a chunk over the size limit"))?;
    Err(file_too_large(limit))
}
