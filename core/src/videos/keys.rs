//! Where an upload's pieces live in R2: each kind of object is a variant of [`ObjectKey`], which
//! formats and parses itself, so no key is glued together or taken apart anywhere else.
//!
//! - `videos/{videoId}/meta.json`: the [`super::record::VideoRecord`].
//! - `videos/{videoId}/chunks/{start:020}`: one object per chunk, custom metadata `total`
//!   (`*` while unknown) and `sha256` (its bytes' digest); deleted once assembled.
//! - `videos/{videoId}/source`: the assembled file, custom metadata `chunks` (how many) and
//!   `last-sha256` (the digest of its last chunk).
//! - `open/{token}/{mode}/{total or *}/{file name hash}`: the video an unfinished upload of
//!   that token, mode, total and file name goes to, for clients that send later chunks without
//!   `videoId`.
//! - `pending/{videoId}`: present while an upload is unfinished (it holds the `open/` key); the
//!   cleanup walks these.
//! - `incoming/{id}`: a file part staged while its request's body is read.

use super::rules::UploadMode;
use crate::ids::{TokenId, VideoId};
use sha2::{Digest, Sha256};
use std::fmt;

const VIDEOS: &str = "videos/";
const PENDING: &str = "pending/";
const OPEN: &str = "open/";
/// Where a request's file parts are staged while its body is read.
pub const STAGING_PREFIX: &str = "incoming/";
/// The prefix of every unfinished upload's marker.
pub const PENDING_PREFIX: &str = PENDING;

/// The correlation key of an unfinished upload: token, mode, declared total, file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenUpload {
    pub token: TokenId,
    pub mode: UploadMode,
    pub total: Option<u64>,
    /// The first 16 bytes of the file name's SHA-256, in hex.
    name_hash: String,
}

impl OpenUpload {
    pub fn new(token: &TokenId, mode: UploadMode, total: Option<u64>, file_name: &str) -> Self {
        let digest = Sha256::digest(file_name.as_bytes());
        Self {
            token: token.clone(),
            mode,
            total,
            name_hash: digest[..16].iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// One object of an upload or a video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectKey {
    Meta(VideoId),
    Chunk(VideoId, u64),
    Source(VideoId),
    Pending(VideoId),
    Open(OpenUpload),
    Staged(String),
}

impl ObjectKey {
    /// The prefix of every chunk of `video`.
    pub fn chunks_of(video: &VideoId) -> String {
        format!("{VIDEOS}{video}/chunks/")
    }

    /// The prefix of every open upload of `token`.
    pub fn open_uploads_of(token: &TokenId) -> String {
        format!("{OPEN}{token}/")
    }

    /// Reads a key back; `None` if it is not one of these.
    pub fn parse(key: &str) -> Option<Self> {
        if let Some(rest) = key.strip_prefix(VIDEOS) {
            let (video, rest) = rest.split_once('/')?;
            let video = VideoId::parse(video)?;
            return match rest {
                "meta.json" => Some(ObjectKey::Meta(video)),
                "source" => Some(ObjectKey::Source(video)),
                _ => {
                    let start = rest.strip_prefix("chunks/")?;
                    if start.len() != 20 || !start.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    Some(ObjectKey::Chunk(video, start.parse().ok()?))
                }
            };
        }
        if let Some(video) = key.strip_prefix(PENDING) {
            return VideoId::parse(video).map(ObjectKey::Pending);
        }
        if let Some(id) = key.strip_prefix(STAGING_PREFIX) {
            return (!id.is_empty() && !id.contains('/')).then(|| ObjectKey::Staged(id.to_owned()));
        }
        let rest = key.strip_prefix(OPEN)?;
        let mut parts = rest.split('/');
        let (token, mode, total, hash) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || hash.len() != 32
            || !hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        Some(ObjectKey::Open(OpenUpload {
            token: TokenId::parse(token)?,
            mode: UploadMode::parse(mode)?,
            total: match total {
                "*" => None,
                t => Some(t.parse().ok()?),
            },
            name_hash: hash.to_owned(),
        }))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectKey::Meta(v) => write!(f, "{VIDEOS}{v}/meta.json"),
            ObjectKey::Chunk(v, start) => write!(f, "{VIDEOS}{v}/chunks/{start:020}"),
            ObjectKey::Source(v) => write!(f, "{VIDEOS}{v}/source"),
            ObjectKey::Pending(v) => write!(f, "{PENDING}{v}"),
            ObjectKey::Staged(id) => write!(f, "{STAGING_PREFIX}{id}"),
            ObjectKey::Open(o) => {
                write!(f, "{OPEN}{}/{}/", o.token, o.mode.as_str())?;
                match o.total {
                    Some(t) => write!(f, "{t}/{}", o.name_hash),
                    None => write!(f, "*/{}", o.name_hash),
                }
            }
        }
    }
}

/// The custom metadata of a chunk: its declared total (`*` while unknown).
pub mod chunk_total {
    /// The metadata's name.
    pub const NAME: &str = "total";

    pub fn format(total: Option<u64>) -> String {
        total.map_or_else(|| "*".to_owned(), |t| t.to_string())
    }

    pub fn parse(value: Option<&str>) -> Option<u64> {
        value.and_then(|v| v.parse().ok())
    }
}

/// The custom metadata of an assembled source: how many chunks it was made of.
pub const SOURCE_CHUNKS: &str = "chunks";

/// The custom metadata of a chunk: the SHA-256 of its bytes, in hex. Chunks stored by versions
/// before it have none.
pub const CHUNK_SHA256: &str = "sha256";

/// The custom metadata of a source assembled from chunks: the SHA-256 of its last chunk (the
/// highest part, or the range that ends the file), in hex. Only the last one fits: R2 keeps at
/// most 8 KiB of metadata per object, and an upload may have 10,000 parts.
pub const SOURCE_LAST_SHA256: &str = "last-sha256";

#[cfg(test)]
mod tests {
    use super::*;

    fn video() -> VideoId {
        VideoId::parse("vi1tcmSFHeYY5KzyhOqVKMKb").unwrap()
    }

    fn token() -> TokenId {
        TokenId::parse("to1tcmSFHeYY5KzyhOqVKMKb").unwrap()
    }

    #[test]
    fn every_kind_of_key_has_its_written_down_form_and_reads_back() {
        let open = OpenUpload::new(&token(), UploadMode::Part, Some(3), "clip.mp4");
        let cases = [
            (
                ObjectKey::Meta(video()),
                "videos/vi1tcmSFHeYY5KzyhOqVKMKb/meta.json",
            ),
            (
                ObjectKey::Chunk(video(), 5_242_880),
                "videos/vi1tcmSFHeYY5KzyhOqVKMKb/chunks/00000000000005242880",
            ),
            (
                ObjectKey::Source(video()),
                "videos/vi1tcmSFHeYY5KzyhOqVKMKb/source",
            ),
            (
                ObjectKey::Pending(video()),
                "pending/vi1tcmSFHeYY5KzyhOqVKMKb",
            ),
            (ObjectKey::Staged("0b7a".into()), "incoming/0b7a"),
            (
                ObjectKey::Open(open),
                // SHA-256("clip.mp4") begins 4c0ea5e3...; the key keeps 16 bytes.
                "open/to1tcmSFHeYY5KzyhOqVKMKb/part/3/",
            ),
        ];
        for (key, text) in cases {
            let s = key.to_string();
            assert!(s.starts_with(text), "{s} vs {text}");
            assert_eq!(ObjectKey::parse(&s), Some(key), "{s}");
        }
    }

    #[test]
    fn open_keys_differ_by_mode_total_and_name() {
        let keys: Vec<String> = [
            OpenUpload::new(&token(), UploadMode::Part, Some(3), "a.mp4"),
            OpenUpload::new(&token(), UploadMode::Part, None, "a.mp4"),
            OpenUpload::new(&token(), UploadMode::Bytes, Some(3), "a.mp4"),
            OpenUpload::new(&token(), UploadMode::Part, Some(3), "b.mp4"),
        ]
        .into_iter()
        .map(|o| ObjectKey::Open(o).to_string())
        .collect();
        for (i, a) in keys.iter().enumerate() {
            assert!(a.starts_with(&ObjectKey::open_uploads_of(&token())));
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(keys[1].contains("/part/*/"));
    }

    #[test]
    fn chunk_keys_sort_by_start_and_sit_under_their_prefix() {
        let a = ObjectKey::Chunk(video(), 9).to_string();
        let b = ObjectKey::Chunk(video(), 10).to_string();
        assert!(a < b);
        assert!(a.starts_with(&ObjectKey::chunks_of(&video())));
    }

    #[test]
    fn anything_else_is_not_a_key() {
        for bad in [
            "",
            "videos/",
            "videos/vi1tcmSFHeYY5KzyhOqVKMKb/other",
            "videos/vi1tcmSFHeYY5KzyhOqVKMKb/chunks/12",
            "videos/nope/source",
            "pending/to1tcmSFHeYY5KzyhOqVKMKb",
            "incoming/",
            "incoming/a/b",
            "open/to1tcmSFHeYY5KzyhOqVKMKb/part/3/xyz",
            "open/to1tcmSFHeYY5KzyhOqVKMKb/sideways/3/0123456789abcdef0123456789abcdef",
            "tok:to1tcmSFHeYY5KzyhOqVKMKb",
        ] {
            assert_eq!(ObjectKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn chunk_totals_round_trip() {
        assert_eq!(chunk_total::format(None), "*");
        assert_eq!(chunk_total::format(Some(12)), "12");
        assert_eq!(chunk_total::parse(Some("12")), Some(12));
        assert_eq!(chunk_total::parse(Some("*")), None);
        assert_eq!(chunk_total::parse(None), None);
    }
}
