//! `Content-Range` as api.video's clients send it: `part n/N`, `part n/*`, `bytes a-b/total`,
//! or none (a whole file), and every rule that needs only the header and the chunk's size.

use super::rules::{
    error, range_error, UploadMode, MAX_CHUNK, MAX_PARTS, MAX_TOTAL_BYTES, MIN_CHUNK,
};
use crate::http::problem::ApiError;

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
