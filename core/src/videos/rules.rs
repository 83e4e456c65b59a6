//! Delegated uploads (`POST /upload?token=`): the `Content-Range` forms api.video's clients
//! send, every rule a chunk must satisfy, when an upload is complete, and the Video object.
//!
//! An upload is made of chunks, each stored as its own object, in one of three modes fixed by
//! its first chunk: a whole file (no `Content-Range`), numbered parts (`part n/N`, or
//! `part n/*` until the last says `part n/n`), or byte ranges (`bytes a-b/total`).

use crate::http::problem::ApiError;
use crate::ids::{TokenId, VideoId};
use crate::project::ProjectId;
use crate::time::{format_atom, UnixSeconds};
use serde::{Deserialize, Serialize};

/// Smallest chunk other than the last one (R2's and api.video's minimum part size).
pub const MIN_CHUNK: u64 = 5 * 1024 * 1024;
/// Largest single chunk, and largest whole-file upload.
pub const MAX_CHUNK: u64 = 200 * 1024 * 1024;
/// Most parts an upload may have.
pub const MAX_PARTS: u64 = 10_000;
/// Largest assembled video: what one R2 `put` accepts (5 GiB less 5 MiB).
pub const MAX_TOTAL_BYTES: u64 = 5 * 1024 * 1024 * 1024 - MIN_CHUNK;
/// Longest title kept (the file name of the first chunk).
pub const MAX_TITLE_CHARS: usize = 256;

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

/// What is kept about a video: who owns it, which token opened it, and how it is uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoRecord {
    pub video_id: String,
    pub project: String,
    /// The token that opened the upload, and when it expires (`None`: never).
    pub token: String,
    pub token_expires_at: Option<UnixSeconds>,
    pub title: String,
    /// Media type of the assembled file, from the first chunk or the file name.
    pub content_type: String,
    pub created_at: UnixSeconds,
    pub mode: UploadMode,
}

impl VideoRecord {
    /// A new video opened by `token` of `project`.
    pub fn new(
        video_id: &VideoId,
        project: &ProjectId,
        token: &TokenId,
        token_expires_at: Option<UnixSeconds>,
        file_name: &str,
        mode: UploadMode,
        now: UnixSeconds,
    ) -> Self {
        Self {
            video_id: video_id.to_string(),
            project: project.to_string(),
            token: token.to_string(),
            token_expires_at,
            title: file_name.chars().take(MAX_TITLE_CHARS).collect(),
            content_type: String::from("application/octet-stream"),
            created_at: now,
            mode,
        }
    }

    /// Sets the media type from what the client declared for the file when it is a video type,
    /// or else from the file name's extension. Browsers send chunks as
    /// `application/octet-stream`, which says nothing; anything but `video/*` (say `text/html`)
    /// is not trusted, since the file is served back from the API's own origin.
    #[must_use]
    pub fn with_content_type(mut self, declared: &str) -> Self {
        let declared = declared.trim().to_ascii_lowercase();
        let is_video = declared.strip_prefix("video/").is_some_and(|sub| {
            !sub.is_empty()
                && sub
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-+.".contains(&b))
        });
        self.content_type = if is_video {
            declared
        } else {
            let ext = self
                .title
                .rsplit_once('.')
                .map(|(_, e)| e.to_ascii_lowercase());
            match ext.as_deref() {
                Some("mp4" | "m4v") => "video/mp4",
                Some("mov") => "video/quicktime",
                Some("webm") => "video/webm",
                Some("mkv") => "video/x-matroska",
                Some("avi") => "video/x-msvideo",
                Some("ts") => "video/mp2t",
                _ => "application/octet-stream",
            }
            .to_owned()
        };
        self
    }

    /// Whether `token` (absent from the store, i.e. deleted or expired and dropped by KV) may
    /// still send chunks: only the token that opened the upload, and only if it has expired
    /// rather than been deleted. A token that never expires and is gone was deleted.
    pub fn accepts_vanished_token(&self, token: &TokenId, now: UnixSeconds) -> bool {
        self.token == token.as_str() && self.token_expires_at.is_some_and(|at| now >= at)
    }
}

/// The upload status `GET /videos/{videoId}` adds to the Video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingest {
    /// `uploading` until every chunk is in, then `uploaded`.
    pub status: &'static str,
    pub mode: UploadMode,
    /// Bytes received so far.
    pub received_bytes_total: u64,
    /// The size of the assembled file, once uploaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesize: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_parts: Option<ReceivedParts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_bytes: Option<Vec<ByteRange>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedParts {
    pub parts: Vec<u64>,
    /// Left out until a part has said how many there are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ByteRange {
    pub from: u64,
    pub to: u64,
    pub total: u64,
}

impl Ingest {
    /// The status of a finished upload: its chunks are gone, assembled into `filesize` bytes.
    pub fn uploaded(mode: UploadMode, filesize: u64, chunk_count: u64) -> Self {
        Self {
            status: "uploaded",
            mode,
            received_bytes_total: filesize,
            filesize: Some(filesize),
            received_parts: (mode == UploadMode::Part).then(|| ReceivedParts {
                parts: (1..=chunk_count).collect(),
                total: Some(chunk_count),
            }),
            received_bytes: (mode == UploadMode::Bytes).then(|| {
                vec![ByteRange {
                    from: 0,
                    to: filesize.saturating_sub(1),
                    total: filesize,
                }]
            }),
        }
    }

    /// The status of an unfinished upload from its stored chunks.
    pub fn uploading(mode: UploadMode, chunks: &[StoredChunk]) -> Self {
        let mut sorted = chunks.to_vec();
        sorted.sort_by_key(|c| c.start);
        let received: u64 = sorted.iter().map(|c| c.size).sum();
        Self {
            status: "uploading",
            mode,
            received_bytes_total: received,
            filesize: None,
            received_parts: (mode == UploadMode::Part).then(|| ReceivedParts {
                parts: sorted.iter().map(|c| c.start).collect(),
                total: sorted.iter().find_map(|c| c.total),
            }),
            received_bytes: (mode == UploadMode::Bytes).then(|| {
                sorted
                    .iter()
                    .map(|c| ByteRange {
                        from: c.start,
                        to: c.start + c.size - 1,
                        total: c.total.unwrap_or_default(),
                    })
                    .collect()
            }),
        }
    }
}

/// The Video object every accepted chunk answers with. Fields api.video would send as `null`
/// are left out (one official client refuses `null` in most of them).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoView<'a> {
    pub video_id: &'a str,
    pub title: &'a str,
    pub description: &'static str,
    pub public: bool,
    pub panoramic: bool,
    pub mp4_support: bool,
    pub tags: [&'static str; 0],
    pub metadata: [&'static str; 0],
    pub discarded: bool,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: String,
    pub source: VideoSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest: Option<Ingest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VideoSource {
    pub uri: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl VideoRecord {
    /// The Video object of this record, last changed at `updated_at`.
    pub fn view(&self, updated_at: UnixSeconds, ingest: Option<Ingest>) -> VideoView<'_> {
        VideoView {
            video_id: &self.video_id,
            title: &self.title,
            description: "",
            public: true,
            panoramic: false,
            mp4_support: true,
            tags: [],
            metadata: [],
            discarded: false,
            created_at: format_atom(self.created_at),
            updated_at: format_atom(updated_at),
            published_at: format_atom(self.created_at),
            source: VideoSource {
                uri: format!("/videos/{}/source", self.video_id),
                kind: "upload",
            },
            ingest,
        }
    }
}

/// Where an upload's pieces live in R2, in one place.
///
/// - `videos/{videoId}/meta.json`: the [`VideoRecord`].
/// - `videos/{videoId}/chunks/{start:020}`: one object per chunk, custom metadata `total`
///   (`*` while unknown); deleted once assembled.
/// - `videos/{videoId}/source`: the assembled file.
/// - `open/{token}/{mode}/{total}/{name hash}`: the video an unfinished upload of that token,
///   total and file name goes to, for clients that send later chunks without `videoId`.
/// - `pending/{videoId}`: present while an upload is unfinished; the cleanup walks these.
pub mod objects {
    use super::UploadMode;
    use sha2::{Digest, Sha256};

    pub fn meta(video: &str) -> String {
        format!("videos/{video}/meta.json")
    }

    pub fn chunk_prefix(video: &str) -> String {
        format!("videos/{video}/chunks/")
    }

    pub fn chunk(video: &str, start: u64) -> String {
        format!("videos/{video}/chunks/{start:020}")
    }

    /// The start of a chunk from its object key.
    pub fn chunk_start(key: &str) -> Option<u64> {
        key.rsplit('/').next()?.parse().ok()
    }

    pub fn source(video: &str) -> String {
        format!("videos/{video}/source")
    }

    pub const PENDING_PREFIX: &str = "pending/";

    /// Where a request's file parts are staged while its body is read; a staged object is
    /// deleted by the request that made it, or by the cleanup if that request died.
    pub const STAGING_PREFIX: &str = "incoming/";

    /// The prefix of every correlation entry of `token`.
    pub fn open_prefix(token: &str) -> String {
        format!("open/{token}/")
    }

    pub fn pending(video: &str) -> String {
        format!("{PENDING_PREFIX}{video}")
    }

    /// The correlation entry of an unfinished upload.
    pub fn open(token: &str, mode: UploadMode, total: Option<u64>, file_name: &str) -> String {
        let digest = Sha256::digest(file_name.as_bytes());
        let hash: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let mode = match mode {
            UploadMode::Whole => "whole",
            UploadMode::Part => "part",
            UploadMode::Bytes => "bytes",
        };
        let prefix = open_prefix(token);
        match total {
            Some(t) => format!("{prefix}{mode}/{t}/{hash}"),
            None => format!("{prefix}{mode}/*/{hash}"),
        }
    }

    /// The custom metadata value of a chunk's total.
    pub fn total_value(total: Option<u64>) -> String {
        total.map_or_else(|| "*".to_owned(), |t| t.to_string())
    }

    /// Reads [`total_value`] back.
    pub fn parse_total(value: Option<&str>) -> Option<u64> {
        value.and_then(|v| v.parse().ok())
    }
}
