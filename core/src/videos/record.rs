//! What is kept about a video, and how it is shown: the record written when an upload opens,
//! the upload status, and the Video object of api.video's contract.

use super::rules::{StoredChunk, UploadMode};
use crate::ids::{TokenId, VideoId};
use crate::project::ProjectId;
use crate::time::{format_atom, UnixSeconds};
use crate::tokens::policy::{origin_allowed, Metadata, Policy};
use serde::{Deserialize, Serialize};

/// Longest title kept (the file name of the first chunk).
pub const MAX_TITLE_CHARS: usize = 256;

/// What is kept about a video: who owns it, which token opened it, and how it is uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoRecord {
    pub video_id: VideoId,
    pub project: ProjectId,
    /// The token that opened the upload, and when it expires (`None`: never).
    pub token: TokenId,
    pub token_expires_at: Option<UnixSeconds>,
    pub title: String,
    /// Media type of the assembled file, from the first chunk or the file name.
    pub content_type: String,
    pub created_at: UnixSeconds,
    pub mode: UploadMode,
    /// The metadata of the token that opened the upload (records of earlier versions have
    /// none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
    /// The limits of the token that opened the upload, as fields of the record itself.
    #[serde(flatten)]
    pub limits: ChunkLimits,
}

/// The limits of the token that opened an upload, which every chunk of the video is held to,
/// whatever token sends it: each absent, or empty, when not set (and in records of earlier
/// versions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ChunkLimits {
    /// The token's `maxFileSize`: no chunk may take the video past it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// The token's `allowedOrigins`: every chunk must come from one of them, even after that
    /// token's record is gone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
}

impl ChunkLimits {
    /// The limits of a token with `policy`.
    pub fn of(policy: &Policy) -> Self {
        Self {
            max_size: policy.max_file_size,
            allowed_origins: policy.allowed_origins.clone(),
        }
    }

    /// Whether a chunk carrying `origin` (its `Origin` header, if any) may be added.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        origin_allowed(&self.allowed_origins, origin)
    }
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
            video_id: video_id.clone(),
            project: project.clone(),
            token: token.clone(),
            token_expires_at,
            title: file_name.chars().take(MAX_TITLE_CHARS).collect(),
            content_type: String::from("application/octet-stream"),
            created_at: now,
            mode,
            metadata: Vec::new(),
            limits: ChunkLimits::default(),
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
        &self.token == token && self.token_expires_at.is_some_and(|at| now >= at)
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
    /// The metadata of the upload token that created the video.
    pub metadata: &'a [Metadata],
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
            video_id: self.video_id.as_str(),
            title: &self.title,
            description: "",
            public: true,
            panoramic: false,
            mp4_support: true,
            tags: [],
            metadata: &self.metadata,
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
