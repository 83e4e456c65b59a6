//! Delegated uploads (`POST /upload?token=`): the `Content-Range` forms api.video's clients
//! send, every rule a chunk must satisfy, when an upload is complete, and the Video object.
//!
//! An upload is made of chunks, each stored as its own object, in one of three modes fixed by
//! its first chunk: a whole file (no `Content-Range`), numbered parts (`part n/N`, or
//! `part n/*` until the last says `part n/n`), or byte ranges (`bytes a-b/total`).

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

fn error(slug: &str, title: &'static str) -> ApiError {
    ApiError::new(400, slug, title)
}

fn range_error(slug: &str, title: &'static str) -> ApiError {
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

/// What a request's `Content-Range` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// No header: the file is the whole video.
    Whole,
    /// `part n/N`, or `part n/*` while the number of parts is not known yet.
    Part { part: u64, total: Option<u64> },
    /// `bytes from-to/total`, inclusive.
    Bytes { from: u64, to: u64, total: u64 },
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl ContentRange {
    /// Parses the header and applies every rule that needs nothing but the header.
    pub fn parse(header: Option<&str>) -> Result<Self, ApiError> {
        let Some(raw) = header else {
            return Ok(ContentRange::Whole);
        };
        let malformed = || {
            range_error(
                "malformed",
                "The value of the \"Content-Range\" header is malformed, the expected format is \"bytes <from_byte>-<to_byte>/<total_bytes>\" or \"part <part>/<total_parts>\".",
            )
        };
        let raw = raw.trim();
        if let Some(rest) = raw.strip_prefix("part ") {
            let (part, total) = rest.split_once('/').ok_or_else(malformed)?;
            let part = number(part).ok_or_else(malformed)?;
            let total = if total == "*" {
                None
            } else {
                Some(number(total).ok_or_else(malformed)?)
            };
            if part == 0 {
                return Err(range_error(
                    "by-part-part-zero",
                    "The part number must be at least 1.",
                ));
            }
            match total {
                Some(0) => Err(range_error(
                    "by-part-total-parts-zero",
                    "The total number of parts must be at least 1.",
                )),
                Some(t) if t > MAX_PARTS => Err(range_error(
                    "by-part-total-parts-too-high",
                    "The total number of parts may not exceed 10000.",
                )),
                Some(t) if part > t => Err(range_error(
                    "by-part-part-too-high-total",
                    "The part number is higher than the total number of parts.",
                )),
                None if part > MAX_PARTS => Err(range_error(
                    "by-part-part-too-high-allowed",
                    "The part number may not exceed 10000.",
                )),
                _ => Ok(ContentRange::Part { part, total }),
            }
        } else if let Some(rest) = raw.strip_prefix("bytes ") {
            let (range, total) = rest.split_once('/').ok_or_else(malformed)?;
            let (from, to) = range.split_once('-').ok_or_else(malformed)?;
            let (from, to, total) = (
                number(from).ok_or_else(malformed)?,
                number(to).ok_or_else(malformed)?,
                number(total).ok_or_else(malformed)?,
            );
            if total == 0 {
                Err(range_error(
                    "by-bytes-total-bytes-zero",
                    "The total number of bytes must be at least 1.",
                ))
            } else if total > MAX_TOTAL_BYTES {
                Err(range_error(
                    "by-bytes-total-bytes-too-high",
                    "The total size may not exceed 5 GiB less 5 MiB.",
                ))
            } else if from > to {
                Err(range_error(
                    "by-bytes-from-byte-too-high",
                    "The first byte is after the last byte.",
                ))
            } else if to >= total {
                Err(range_error(
                    "by-bytes-to-byte-too-high-total",
                    "The last byte is past the total size.",
                ))
            } else if to - from + 1 > MAX_CHUNK {
                Err(range_error(
                    "by-bytes-range-too-large",
                    "A range may not exceed 200 MiB.",
                ))
            } else {
                Ok(ContentRange::Bytes { from, to, total })
            }
        } else {
            Err(malformed())
        }
    }

    /// The mode of upload this chunk belongs to.
    pub fn mode(&self) -> UploadMode {
        match self {
            ContentRange::Whole => UploadMode::Whole,
            ContentRange::Part { .. } => UploadMode::Part,
            ContentRange::Bytes { .. } => UploadMode::Bytes,
        }
    }

    /// The mode and the declared total of a chunk of a chunked upload; `None` for a whole file.
    pub fn chunked(&self) -> Option<(UploadMode, Option<u64>)> {
        match *self {
            ContentRange::Whole => None,
            ContentRange::Part { total, .. } => Some((UploadMode::Part, total)),
            ContentRange::Bytes { total, .. } => Some((UploadMode::Bytes, Some(total))),
        }
    }

    /// Applies the rules that need the chunk's size.
    pub fn check_size(&self, size: u64) -> Result<(), ApiError> {
        if size == 0 {
            return Err(error("uploaded-file-empty", "The uploaded file is empty.").named("file"));
        }
        if size > MAX_CHUNK && !matches!(self, ContentRange::Bytes { .. }) {
            return Err(
                error("uploaded-file-too-large", "The uploaded file is too large.").named("file"),
            );
        }
        match *self {
            ContentRange::Part { part, total } if total != Some(part) && size < MIN_CHUNK => {
                Err(range_error(
                    "by-part-uploaded-file-too-small",
                    "Every part but the last must hold at least 5 MiB.",
                ))
            }
            ContentRange::Bytes { from, to, .. } if to - from + 1 != size => Err(range_error(
                "by-bytes-range-mismatch",
                "The range does not match the size of the uploaded file.",
            )),
            ContentRange::Bytes { to, total, .. } if to + 1 != total && size < MIN_CHUNK => {
                Err(range_error(
                    "by-bytes-range-too-small",
                    "Every range but the last must hold at least 5 MiB.",
                ))
            }
            _ => Ok(()),
        }
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
                    Err(range_error("by-part-part-already-sent", "This part has already been sent."))
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
                return Err(range_error(
                    "by-bytes-range-overlap",
                    "The range overlaps a range already sent.",
                ));
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
