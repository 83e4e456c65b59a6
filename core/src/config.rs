//! Configuration, read from the Worker's vars and secrets (once per instance: they cannot change
//! within one).

use crate::auth::{ApiKeys, Lifetimes, Signer};
use crate::http::problem::ApiError;

/// A rate limit as configured on a `[[ratelimits]]` binding: `limit` requests per `period`
/// seconds (10 or 60). The binding cannot be read back, so the same figures are given as vars
/// for the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub period: u32,
}

/// Everything the service needs to know beyond its bindings.
pub struct Config {
    pub keys: ApiKeys,
    pub signer: Signer,
    pub lifetimes: Lifetimes,
    /// Per project, on every authenticated call and on uploads.
    pub api_limit: RateLimit,
    /// Per client address, on `/auth/api-key` and `/auth/refresh`, and on failed
    /// authentication and refused upload tokens anywhere.
    pub auth_limit: RateLimit,
    /// See [`upload_stale_after`].
    pub upload_stale_after: u32,
}

/// Default access-token lifetime, as api.video's.
pub const DEFAULT_ACCESS_TOKEN_TTL: u32 = 3600;
/// Default refresh-token lifetime: 30 days.
pub const DEFAULT_REFRESH_TOKEN_TTL: u32 = 30 * 24 * 3600;

/// Seconds without a new chunk after which an unfinished upload is removed: `UPLOAD_STALE_AFTER`,
/// default one day, 1 to 2,592,000 (30 days): `0` would remove every upload in progress (values
/// of seconds are for tests; in production keep hours, so that slow chunks are not removed). Read on its own,
/// since the cleanup and the project index need no other configuration; a value out of range
/// or not an integer is refused (a "misconfigured" 500 naming the var, never a fallback).
pub fn upload_stale_after(var: impl Fn(&str) -> Option<String>) -> Result<u32, ApiError> {
    number(
        &var,
        "UPLOAD_STALE_AFTER",
        DEFAULT_UPLOAD_STALE_AFTER,
        STALE_AFTER_RANGE,
    )
}

/// The whole number in the var `name`, `default` if it is not set; a value out of `range` or
/// not an integer is a "misconfigured" 500 naming the var.
fn number(
    var: impl Fn(&str) -> Option<String>,
    name: &str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ApiError> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|v| range.contains(v))
            .ok_or_else(|| {
                ApiError::misconfigured(format!(
                    "{name} must be an integer in {}..={}",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

/// Default of [`upload_stale_after`].
pub const DEFAULT_UPLOAD_STALE_AFTER: u32 = 24 * 3600;
/// Accepted values of [`upload_stale_after`].
pub const STALE_AFTER_RANGE: std::ops::RangeInclusive<u32> = 1..=2_592_000;

impl Config {
    /// Reads the configuration through `var` (a var or secret by name). Any problem is a
    /// "misconfigured" 500 whose reason, never containing a secret, is for the log.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ApiError> {
        let keys = match var("API_KEYS") {
            Some(raw) if !raw.trim().is_empty() => ApiKeys::parse(&raw),
            _ => Err("API_KEYS is not set: no API key can be accepted".to_owned()),
        }
        .map_err(ApiError::misconfigured)?;
        let signer = match var("AUTH_SIGNING_KEY") {
            Some(raw) => Signer::new(raw.trim().as_bytes()),
            None => Err("AUTH_SIGNING_KEY is not set".to_owned()),
        }
        .map_err(ApiError::misconfigured)?;
        let number = |name: &str, default: u32, range| number(&var, name, default, range);
        let period = |name: &str, default: u32| {
            let p = number(name, default, 10..=60)?;
            if p == 10 || p == 60 {
                Ok(p)
            } else {
                Err(ApiError::misconfigured(format!("{name} must be 10 or 60")))
            }
        };
        Ok(Self {
            keys,
            signer,
            lifetimes: Lifetimes {
                access: number("ACCESS_TOKEN_TTL", DEFAULT_ACCESS_TOKEN_TTL, 1..=86_400)?,
                refresh: number(
                    "REFRESH_TOKEN_TTL",
                    DEFAULT_REFRESH_TOKEN_TTL,
                    60..=31_536_000,
                )?,
            },
            api_limit: RateLimit {
                limit: number("RATE_LIMIT", 600, 1..=1_000_000)?,
                period: period("RATE_LIMIT_PERIOD", 60)?,
            },
            auth_limit: RateLimit {
                limit: number("AUTH_RATE_LIMIT", 30, 1..=1_000_000)?,
                period: period("AUTH_RATE_LIMIT_PERIOD", 60)?,
            },
            upload_stale_after: upload_stale_after(&var)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ApiError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_vars(|name| vars.get(name).cloned())
    }

    const KEYS: (&str, &str) = ("API_KEYS", "p1:0123456789abcdef");
    const SIGNING: (&str, &str) = ("AUTH_SIGNING_KEY", "0123456789abcdef0123456789abcdef");

    #[test]
    fn defaults_apply_when_only_secrets_are_set() {
        let c = config(&[KEYS, SIGNING]).unwrap();
        assert_eq!(c.lifetimes.access, 3600);
        assert_eq!(
            c.api_limit,
            RateLimit {
                limit: 600,
                period: 60
            }
        );
    }

    #[test]
    fn missing_or_empty_api_keys_refuse_service_with_a_logged_reason() {
        for pairs in [&[SIGNING][..], &[("API_KEYS", "  "), SIGNING][..]] {
            let e = config(pairs).err().unwrap();
            assert_eq!(e.status(), 500);
            assert!(e.log_detail.as_deref().unwrap().contains("API_KEYS"));
        }
        assert!(config(&[KEYS]).is_err());
    }

    #[test]
    fn out_of_range_numbers_are_configuration_errors() {
        for bad in [
            ("ACCESS_TOKEN_TTL", "0"),
            ("ACCESS_TOKEN_TTL", "x"),
            ("RATE_LIMIT_PERIOD", "30"),
            ("AUTH_RATE_LIMIT", "0"),
        ] {
            assert!(config(&[KEYS, SIGNING, bad]).is_err(), "{bad:?}");
        }
        let c = config(&[
            KEYS,
            SIGNING,
            ("ACCESS_TOKEN_TTL", "5"),
            ("RATE_LIMIT_PERIOD", "10"),
        ])
        .unwrap();
        assert_eq!((c.lifetimes.access, c.api_limit.period), (5, 10));
    }
}
