//! `POST /auth/api-key` and `POST /auth/refresh`: bearer tokens for clients that use them.
//!
//! An API key starts a session: a chain of refresh tokens, each usable once, the whole chain
//! ending `REFRESH_TOKEN_TTL` after the API key was exchanged. The project's index keeps each
//! session's next expected refresh token (strongly consistent): a refresh token used a second
//! time, by its owner or by whoever copied it, ends the session, and neither can go on
//! (reuse detection, as OAuth 2.0 security practice recommends). An access token is not looked
//! up: it ends after `ACCESS_TOKEN_TTL`, or with its session if that comes first.

use crate::http::problem::ApiError;
use crate::http::{read_json_body, Body, Context, Request, Response};
use crate::ids::request_id;
use crate::storage::index::{SessionUse, TokenIndex};
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
pub async fn exchange<K, L, I: TokenIndex, O, B: Body>(
    ctx: &mut Context<'_, K, L, I, O>,
    req: &Request<'_>,
    body: B,
    kind: Exchange,
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
    let (config, now) = (ctx.config, ctx.now);
    let (signer, keys, lifetimes) = (&config.signer, &config.keys, config.lifetimes);
    let failed = |e| ApiError::internal(format!("keeping a session: {e}"));
    let (entry, mut session) = match kind {
        Exchange::ApiKey => {
            let id = request_id(ctx.entropy);
            let (entry, session) = signer
                .session_for_key(keys, secret, id, now)
                .ok_or_else(ApiError::invalid_credentials)?;
            let ends = session.ends_at(lifetimes);
            ctx.index
                .start_session(&entry.project, &session.id, ends, now)
                .await
                .map_err(failed)?;
            (entry, session)
        }
        Exchange::Refresh => {
            let (entry, session) = signer
                .verify_refresh(keys, secret, now)
                .ok_or_else(ApiError::invalid_credentials)?;
            let used = ctx
                .index
                .rotate_session(&entry.project, &session.id, session.seq, now)
                .await
                .map_err(failed)?;
            if used != SessionUse::Rotated {
                return Err(ApiError::invalid_credentials());
            }
            (entry, session)
        }
    };
    if kind == Exchange::Refresh {
        session.seq += 1;
    }
    let pair = signer.issue(entry, &session, now, lifetimes);
    Ok(Response::json(
        200,
        serde_json::to_string(&pair).expect("serialises"),
    ))
}
