//! The SHA-256 of a file part's bytes, taken while it is staged: what tells a chunk sent again
//! unchanged from one sent again with other bytes of the same size.

use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 digest; written and read as 64 lowercase hex digits (R2 custom metadata, and the
/// staging result of the Worker's `js/multipart.js`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentDigest([u8; 32]);

impl ContentDigest {
    /// The digest of `bytes` (host tests and in-memory storage; the Worker hashes in the
    /// runtime).
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// A digest from its 64 hex digits (either case); `None` for anything else.
    pub fn parse(hex: &str) -> Option<Self> {
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16);
            *byte = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Some(Self(out))
    }
}

impl From<[u8; 32]> for ContentDigest {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_of_known_inputs_in_hex() {
        // FIPS 180-2's examples.
        assert_eq!(
            ContentDigest::of(b"").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            ContentDigest::of(b"abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_reads_back_and_nothing_else_does() {
        let d = ContentDigest::of(b"abc");
        assert_eq!(ContentDigest::parse(&d.to_string()), Some(d));
        assert_eq!(ContentDigest::parse(&d.to_string().to_uppercase()), Some(d));
        for bad in [
            "",
            "ba7816bf",
            &format!("{d}0"),
            &format!("g{}", &d.to_string()[1..]),
            &format!("+{}", &d.to_string()[1..]),
        ] {
            assert_eq!(ContentDigest::parse(bad), None, "{bad}");
        }
    }
}
