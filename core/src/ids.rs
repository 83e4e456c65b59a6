//! Identifiers: upload tokens (`to…`) and videos (`vi…`), both a two-letter prefix followed by
//! 22 base62 characters drawn uniformly from a CSPRNG (22 × log2(62) ≈ 131 bits).

use std::fmt;

/// The base62 alphabet, in ASCII order.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Number of random characters after the prefix.
pub const RANDOM_CHARS: usize = 22;

/// A source of cryptographically secure random bytes, injected so the core stays deterministic
/// under test.
pub trait Entropy {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The platform's CSPRNG (`crypto.getRandomValues` in a Worker, the OS on a host).
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        // Only fails if the platform has no secure random source at all; there is no safe
        // way to go on making tokens then.
        getrandom::fill(buf).expect("the platform's secure random source failed");
    }
}

/// Draws `RANDOM_CHARS` base62 characters by rejection sampling: bytes >= 248 (= 4 × 62) are
/// discarded, so every character is exactly uniform.
fn random_base62(entropy: &mut dyn Entropy, out: &mut String) {
    let mut produced = 0;
    let mut buf = [0u8; 32];
    while produced < RANDOM_CHARS {
        entropy.fill(&mut buf);
        for &b in &buf {
            if b < 248 {
                out.push(ALPHABET[usize::from(b % 62)] as char);
                produced += 1;
                if produced == RANDOM_CHARS {
                    break;
                }
            }
        }
    }
}

fn is_well_formed(prefix: &str, s: &str) -> bool {
    s.len() == prefix.len() + RANDOM_CHARS
        && s.starts_with(prefix)
        && s[prefix.len()..].bytes().all(|b| b.is_ascii_alphanumeric())
}

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[doc = concat!("A ", $what, " id: `", $prefix, "` followed by 22 base62 characters.")]
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The fixed prefix of every id of this kind.
            pub const PREFIX: &'static str = $prefix;

            /// Makes a fresh id from `entropy`.
            pub fn generate(entropy: &mut dyn Entropy) -> Self {
                let mut s = String::with_capacity(Self::PREFIX.len() + RANDOM_CHARS);
                s.push_str(Self::PREFIX);
                random_base62(entropy, &mut s);
                Self(s)
            }

            /// Accepts `s` only if it has the exact shape of an id of this kind.
            pub fn parse(s: &str) -> Option<Self> {
                is_well_formed(Self::PREFIX, s).then(|| Self(s.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(concat!("not a well-formed ", $what, " id"))
                })
            }
        }
    };
}

/// A request id: a random (version 4) UUID, in log lines and the `X-Request-Id` answer header,
/// and part of the names of the objects the request stages. Drawn from `entropy`.
pub fn request_id(entropy: &mut dyn Entropy) -> String {
    let mut bytes = [0u8; 16];
    entropy.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

prefixed_id!(TokenId, "to", "upload token");
prefixed_id!(VideoId, "vi", "video");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SeqEntropy;
    use std::collections::HashSet;

    #[test]
    fn generated_ids_have_the_published_shape() {
        let mut rng = SystemEntropy;
        for _ in 0..1000 {
            let t = TokenId::generate(&mut rng);
            assert_eq!(t.as_str().len(), 24);
            assert!(t.as_str().starts_with("to"));
            assert!(t.as_str()[2..].bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(TokenId::parse(t.as_str()), Some(t.clone()));
            let v = VideoId::generate(&mut rng);
            assert!(v.as_str().starts_with("vi"));
            assert!(VideoId::parse(v.as_str()).is_some());
            assert!(TokenId::parse(v.as_str()).is_none());
        }
    }

    #[test]
    fn one_hundred_thousand_ids_are_all_distinct() {
        let mut rng = SystemEntropy;
        let ids: HashSet<TokenId> = (0..100_000).map(|_| TokenId::generate(&mut rng)).collect();
        assert_eq!(ids.len(), 100_000);
    }

    #[test]
    fn characters_are_spread_over_the_whole_alphabet() {
        let mut rng = SystemEntropy;
        let mut counts = [0u32; 128];
        for _ in 0..20_000 {
            for b in TokenId::generate(&mut rng).as_str()[2..].bytes() {
                counts[usize::from(b)] += 1;
            }
        }
        let used: Vec<u32> = ALPHABET.iter().map(|&c| counts[usize::from(c)]).collect();
        // 440,000 characters over 62 symbols: about 7,097 each. A biased sampler (plain `% 62`
        // over all 256 byte values) would give the first 8 symbols about 7,700.
        let (min, max) = (used.iter().min().unwrap(), used.iter().max().unwrap());
        assert!(*min > 6_700 && *max < 7_500, "min {min} max {max}");
    }

    #[test]
    fn rejection_sampling_skips_bytes_that_would_bias() {
        // Bytes 248..=255 must be skipped, then 0, 61, 62 map to '0', 'z', '0'.
        let mut rng = SeqEntropy::new(&[255, 248, 0, 61, 62, 1]);
        let t = TokenId::generate(&mut rng);
        assert!(t.as_str().starts_with("to0z01"), "{t}");
    }

    #[test]
    fn parse_refuses_anything_not_exactly_shaped() {
        let ok = "to1tcmSFHeYY5KzyhOqVKMKb";
        assert!(TokenId::parse(ok).is_some());
        for bad in [
            "",
            "to",
            "to1tcmSFHeYY5KzyhOqVKMK",
            "to1tcmSFHeYY5KzyhOqVKMKbb",
            "xx1tcmSFHeYY5KzyhOqVKMKb",
            "TO1tcmSFHeYY5KzyhOqVKMKb",
            "to1tcmSFHeYY5KzyhOqVKM-b",
            "to1tcmSFHeYY5KzyhOqVKM%b",
            "to1tcmSFHeYY5KzyhOqVKMéb",
        ] {
            assert!(TokenId::parse(bad).is_none(), "{bad:?}");
        }
    }

    /// Entropy that hands out the given bytes.
    struct Bytes(Vec<u8>);

    impl Entropy for Bytes {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.copy_from_slice(&self.0[..buf.len()]);
        }
    }

    #[test]
    fn request_ids_are_version_4_uuids_of_the_given_bytes() {
        let mut e = Bytes(vec![0xff; 16]);
        assert_eq!(request_id(&mut e), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let mut e = Bytes((0..16).collect());
        assert_eq!(request_id(&mut e), "00010203-0405-4607-8809-0a0b0c0d0e0f");
    }
}
