//! Delegated uploads (`POST /upload?token=`): the `Content-Range` forms api.video's clients
//! send, every rule a chunk must satisfy, when an upload is complete, and the Video object.
//!
//! An upload is made of chunks, each stored as its own object, in one of three modes fixed by
//! its first chunk: a whole file (no `Content-Range`), numbered parts (`part n/N`, or
//! `part n/*` until the last says `part n/n`), or byte ranges (`bytes a-b/total`).

pub use super::range::ContentRange;
use crate::digest::ContentDigest;
use crate::http::problem::ApiError;
use serde::{Deserialize, Serialize};

/// Smallest chunk other than the last one (R2's and api.video's minimum part size).
pub const MIN_CHUNK: u64 = 5 * 1024 * 1024;
/// Largest single chunk, and largest whole-file upload.
pub const MAX_CHUNK: u64 = 200 * 1024 * 1024;
/// Most parts an upload may have.
pub const MAX_PARTS: u64 = 10_000;
/// Largest assembled video: what one R2 `put` accepts (5 GiB less 5 MiB).
pub const MAX_TOTAL_BYTES: u64 = 5 * 1024 * 1024 * 1024 - MIN_CHUNK;

pub(crate) fn error(slug: &str, title: &'static str) -> ApiError {
    ApiError::new(400, slug, title)
}

pub(crate) fn range_error(slug: &str, title: &'static str) -> ApiError {
    error(&format!("video-content-range-{slug}"), title).named("Content-Range")
}

/// 401 for a missing, unknown, expired or deleted upload token.
pub fn invalid_token(missing: bool) -> ApiError {
    ApiError::new(
        401,
        "authentication-invalid-upload-token",
        if missing {
            "The upload token is missing: pass it as ?token=."
        } else {
            "The upload token does not exist or has expired."
        },
    )
    .named("token")
}

/// 404 for a video that does not exist or belongs to another project.
pub fn video_not_found() -> ApiError {
    ApiError::not_found("videoId")
}

/// 400 for a body with no file part.
pub fn no_file() -> ApiError {
    error(
        "uploaded-file-no-file",
        "There is no uploaded file in the request.",
    )
    .named("file")
}

/// 400 for a body with more than one file part.
pub fn multiple_files() -> ApiError {
    error(
        "uploaded-file-multiple-files",
        "There are more than one uploaded file in the request.",
    )
    .named("file")
}

/// 400 for a file over [`MAX_CHUNK`].
pub fn too_large() -> ApiError {
    error("uploaded-file-too-large", "The uploaded file is too large.").named("file")
}

/// 400 for a body that is not `multipart/form-data`.
pub fn not_multipart() -> ApiError {
    error(
        "uploaded-file-invalid-file",
        "The uploaded file is invalid: send it as multipart/form-data.",
    )
    .named("file")
}

/// The file name as the client meant it. Multipart encoders (browsers, Node's form-data,
/// Python's urllib3) escape `"`, CR and LF in a part's `filename` as `%22`, `%0D` and `%0A`,
/// which the runtime's parser leaves as they are.
pub fn decode_file_name(raw: &str) -> String {
    raw.replace("%22", "\"")
        .replace("%0D", "\r")
        .replace("%0A", "\n")
}

/// 400 for a part whose number was sent before with another size or other bytes.
pub fn part_already_sent() -> ApiError {
    range_error(
        "by-part-part-already-sent",
        "This part has already been sent.",
    )
}

/// 400 for a byte range that overlaps one sent before (or is one sent before, with other
/// bytes).
pub fn range_overlap() -> ApiError {
    range_error(
        "by-bytes-range-overlap",
        "The range overlaps a range already sent.",
    )
}

/// A chunk that [`plan_chunk`] found already stored (same number or range, same size) is
/// accepted again only if its bytes are the same: `sent` is the digest of the bytes just
/// staged, `stored` the one kept with the bytes stored before. With no digest stored (a chunk
/// stored by a version that kept none, or an earlier chunk of an assembled video), number and
/// size alone decide, as [`plan_chunk`] did.
pub fn check_same_bytes(
    range: &ContentRange,
    stored: Option<ContentDigest>,
    sent: ContentDigest,
) -> Result<(), ApiError> {
    match (stored, range) {
        (Some(d), ContentRange::Bytes { .. }) if d != sent => Err(range_overlap()),
        (Some(d), _) if d != sent => Err(part_already_sent()),
        _ => Ok(()),
    }
}

/// How an upload sends its file; fixed by its first chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadMode {
    Whole,
    Part,
    Bytes,
}

impl UploadMode {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadMode::Whole => "whole",
            UploadMode::Part => "part",
            UploadMode::Bytes => "bytes",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [UploadMode::Whole, UploadMode::Part, UploadMode::Bytes]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// A chunk already stored, as read back from storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredChunk {
    /// Part number (part mode) or first byte (bytes mode).
    pub start: u64,
    pub size: u64,
    /// The total the chunk declared: parts (`None` for `*`) or bytes.
    pub total: Option<u64>,
    /// The SHA-256 of its bytes, if it was stored with one (versions before digests kept none).
    pub digest: Option<ContentDigest>,
}

/// What to do with an accepted chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkPlan {
    /// Store it under `start`.
    Store { start: u64, total: Option<u64> },
    /// The same chunk is already stored (a client retry): answer as if stored again.
    AlreadyStored,
}

/// Decides whether a chunk may join an upload whose mode and stored chunks are given (`None`
/// for a new video), and where it goes. `assembled` is the size and chunk count of the video's
/// file once it is assembled (its chunks are gone by then): a chunk of it sent again, as a
/// client does when an answer was lost, is accepted as already stored.
pub fn plan_chunk(
    existing: Option<(UploadMode, &[StoredChunk])>,
    assembled: Option<(u64, u64)>,
    range: &ContentRange,
    size: u64,
) -> Result<ChunkPlan, ApiError> {
    range.check_size(size)?;
    let already_uploaded = || {
        error(
            "video-source-already-uploaded",
            "This video source has already been uploaded.",
        )
    };
    let (store_start, store_total) = match *range {
        ContentRange::Whole => (0, Some(size)),
        ContentRange::Part { part, total } => (part, total),
        ContentRange::Bytes { from, total, .. } => (from, Some(total)),
    };
    let store = ChunkPlan::Store {
        start: store_start,
        total: store_total,
    };
    let Some((mode, chunks)) = existing else {
        return Ok(store);
    };
    match (mode, range) {
        (UploadMode::Whole, _) => Err(already_uploaded()),
        (_, ContentRange::Whole) if assembled.is_some() => Err(already_uploaded()),
        (_, ContentRange::Whole) => Err(range_error(
            "already-initiated",
            "This video source has already been initiated with a \"Content-Range\" upload.",
        )),
        (UploadMode::Bytes, ContentRange::Part { .. }) => Err(range_error(
            "started-with-bytes",
            "This \"Content-Range\" upload has been started with \"bytes\", you cannot continue it with \"part\".",
        )),
        (UploadMode::Part, ContentRange::Bytes { .. }) => Err(range_error(
            "started-with-part",
            "This \"Content-Range\" upload has been started with \"part\", you cannot continue it with \"bytes\".",
        )),
        (UploadMode::Part, &ContentRange::Part { part, total }) => {
            if let Some(same) = chunks.iter().find(|c| c.start == part) {
                return if same.size == size && (total.is_none() || same.total.is_none() || same.total == total) {
                    Ok(ChunkPlan::AlreadyStored)
                } else {
                    Err(part_already_sent())
                };
            }
            if let Some((_, count)) = assembled {
                return if part <= count && total.is_none_or(|t| t == count) {
                    Ok(ChunkPlan::AlreadyStored)
                } else {
                    Err(already_uploaded())
                };
            }
            let known = chunks.iter().find_map(|c| c.total);
            match (total, known) {
                (Some(t), Some(k)) if t != k => Err(range_error(
                    "by-part-different-total-parts",
                    "The total number of parts differs from the one this upload declared before.",
                )),
                (Some(t), _) if chunks.iter().any(|c| c.start > t) => Err(range_error(
                    "by-part-total-parts-too-low",
                    "The total number of parts is lower than a part already sent.",
                )),
                (None, Some(k)) if part > k => Err(range_error(
                    "by-part-part-too-high-total",
                    "The part number is higher than the total number of parts.",
                )),
                _ if chunks.iter().map(|c| c.size).sum::<u64>() + size > MAX_TOTAL_BYTES => Err(
                    error("uploaded-file-too-large", "The uploaded file is too large.").named("file"),
                ),
                _ => Ok(store),
            }
        }
        (UploadMode::Bytes, &ContentRange::Bytes { from, to, total }) => {
            if chunks.iter().any(|c| c.total != Some(total)) {
                return Err(range_error(
                    "by-bytes-different-total-bytes",
                    "The total size differs from the one this upload declared before.",
                ));
            }
            if chunks.iter().any(|c| c.start == from && c.size == size) {
                return Ok(ChunkPlan::AlreadyStored);
            }
            if let Some((assembled_size, _)) = assembled {
                return if total == assembled_size {
                    Ok(ChunkPlan::AlreadyStored)
                } else {
                    Err(already_uploaded())
                };
            }
            if chunks.iter().any(|c| c.start <= to && from < c.start + c.size) {
                return Err(range_overlap());
            }
            Ok(store)
        }
    }
}

/// The chunks to concatenate, in order, once every one of them is stored; `None` while the
/// upload is incomplete. `chunks` are all stored chunks of one upload in `mode`.
pub fn completion(mode: UploadMode, chunks: &[StoredChunk]) -> Option<Vec<StoredChunk>> {
    let mut sorted = chunks.to_vec();
    sorted.sort_by_key(|c| c.start);
    match mode {
        UploadMode::Whole => (!sorted.is_empty()).then_some(sorted),
        UploadMode::Part => {
            let total = sorted.iter().find_map(|c| c.total)?;
            let numbered = sorted.iter().map(|c| c.start).eq(1..=total);
            numbered.then_some(sorted)
        }
        UploadMode::Bytes => {
            let total = sorted.first()?.total?;
            let mut next = 0;
            for c in &sorted {
                if c.start != next {
                    return None;
                }
                next = c.start + c.size;
            }
            (next == total).then_some(sorted)
        }
    }
}
