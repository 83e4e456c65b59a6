//! `POST /auth/api-key` and `POST /auth/refresh`: bearer tokens for clients that use them.

use crate::config::Config;
use crate::http::problem::ApiError;
use crate::http::{read_json_body, Body, Request, Response};
use crate::time::UnixSeconds;
use crate::tokens::query::parse_json_object;
use serde_json::Value;

/// Which of the two endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// An API key for a pair of tokens.
    ApiKey,
    /// A refresh token for a new pair.
    Refresh,
}

/// Exchanges the body's secret (`apiKey` or `refreshToken`) for an access and refresh token.
pub async fn exchange<B: Body>(
    config: &Config,
    req: &Request<'_>,
    body: B,
    kind: Exchange,
    now: UnixSeconds,
) -> Result<Response, ApiError> {
    let body = read_json_body(req, body).await?;
    let fields = parse_json_object(&body)?;
    let field = match kind {
        Exchange::ApiKey => "apiKey",
        Exchange::Refresh => "refreshToken",
    };
    let Some(Value::String(secret)) = fields.get(field) else {
        return Err(ApiError::invalid_attribute(
            field,
            "This attribute is required and must be a string.",
        ));
    };
    let (keys, lifetimes) = (&config.keys, config.lifetimes);
    let pair = match kind {
        Exchange::ApiKey => config.signer.issue_for_key(keys, secret, now, lifetimes),
        Exchange::Refresh => config.signer.refresh(keys, secret, now, lifetimes),
    };
    let pair = pair.ok_or_else(ApiError::invalid_credentials)?;
    Ok(Response::json(
        200,
        serde_json::to_string(&pair).expect("serialises"),
    ))
}
