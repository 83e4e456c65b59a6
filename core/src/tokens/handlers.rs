//! The token endpoints: list, create, get and delete, for an authenticated project. List,
//! create and get take `allowed`, the rate limiter's answer still in flight, so that the one
//! storage read a request needs is made while the limiter answers, and nothing is written unless
//! it allows; delete, which reads nothing first, is called once the limiter has allowed it.

use crate::http::problem::ApiError;
use crate::http::{read_json_body, Body, Context, Request, Response};
use crate::ids::TokenId;
use crate::project::ProjectId;
use crate::storage::index::{PageRequest, TokenIndex};
use crate::storage::kv::{Kv, StoreError};
use crate::tokens::list::render_page;
use crate::tokens::query::{parse_create_body, ListQuery};
use crate::tokens::store::TokenRecord;
use crate::tokens::token::UploadToken;
use futures_util::future::join;
use std::future::Future;

fn internal(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| ApiError::internal(format!("{what}: {e}"))
}

fn token_response(token: &UploadToken, uploads_used: u32) -> Response {
    Response::json(
        200,
        serde_json::to_string(&token.view(uploads_used)).expect("serialises"),
    )
}

/// `GET /upload-tokens`: one round trip to the project's index; a refused caller costs at
/// most that one read, and a bad query none.
pub async fn list<K, L, I: TokenIndex, O>(
    ctx: &Context<'_, K, L, I, O>,
    req: &Request<'_>,
    project: &ProjectId,
    allowed: impl Future<Output = Result<(), ApiError>>,
) -> Result<Response, ApiError> {
    let query = match ListQuery::parse(req.query) {
        Ok(q) => q,
        Err(e) => {
            allowed.await?;
            return Err(e);
        }
    };
    let page = ctx.index.page(project, PageRequest::of(&query), ctx.now);
    let (allowed, page) = join(allowed, page).await;
    allowed?;
    let page = page.map_err(internal("listing tokens"))?;
    Ok(Response::json(200, render_page(&page, &query)))
}

/// `POST /upload-tokens`: the limiter is asked while the body arrives. The record is written
/// first, then the index row (with the policy, metadata included, in one command): an
/// interrupted create leaves at worst a record the index does not know, which can neither be
/// listed nor upload.
pub async fn create<K: Kv, L, I: TokenIndex, O, B: Body>(
    ctx: &mut Context<'_, K, L, I, O>,
    req: &Request<'_>,
    body: B,
    project: ProjectId,
    allowed: impl Future<Output = Result<(), ApiError>>,
) -> Result<Response, ApiError> {
    let (allowed, body) = join(allowed, read_json_body(req, body)).await;
    allowed?;
    let creation = parse_create_body(&body?)?;
    let record = TokenRecord {
        project,
        token: UploadToken {
            token: TokenId::generate(ctx.entropy),
            ttl: creation.ttl,
            created_at: ctx.now,
            policy: creation.policy,
        },
    };
    ctx.store
        .save(&record, ctx.config.upload_stale_after)
        .await
        .map_err(internal("creating a token"))?;
    ctx.index
        .insert(&record.project, &record.token)
        .await
        .map_err(internal("creating a token"))?;
    Ok(token_response(&record.token, 0))
}

/// `GET /upload-tokens/{token}`: one KV read, made while the limiter answers. A token with
/// `maxUploads` then asks its project's index how many videos it has made (the index alone
/// counts them, strongly consistent): one more round trip, for those tokens only, and a 404 if
/// the index no longer knows the token (deleted, wherever KV still has the record).
pub async fn get<K: Kv, L, I: TokenIndex, O>(
    ctx: &Context<'_, K, L, I, O>,
    project: &ProjectId,
    id: &str,
    allowed: impl Future<Output = Result<(), ApiError>>,
) -> Result<Response, ApiError> {
    let (allowed, found) = join(allowed, find_active(ctx, project, id)).await;
    allowed?;
    let record = found?;
    let mut uploads_used = 0;
    if record.token.policy.max_uploads.is_some() {
        uploads_used = ctx
            .index
            .uploads_used(project, &record.token.token, ctx.now)
            .await
            .map_err(internal("reading a token"))?
            .ok_or_else(|| ApiError::not_found("uploadToken"))?;
    }
    Ok(token_response(&record.token, uploads_used))
}

/// `DELETE /upload-tokens/{token}`, once the limiter has allowed it. The index first (once it
/// has forgotten the token, no upload is accepted with it, wherever KV still has the record),
/// then the record.
pub async fn delete<K: Kv, L, I: TokenIndex, O>(
    ctx: &Context<'_, K, L, I, O>,
    project: &ProjectId,
    id: &str,
) -> Result<Response, ApiError> {
    let token = TokenId::parse(id).ok_or_else(|| ApiError::not_found("uploadToken"))?;
    let removed = ctx
        .index
        .remove(project, &token, ctx.now)
        .await
        .map_err(internal("deleting a token"))?;
    if !removed {
        // Not in the index: 404, unless an interrupted create or delete left the record
        // behind, which this delete then finishes.
        find_active(ctx, project, id).await?;
    }
    ctx.store
        .remove(&token)
        .await
        .map_err(internal("deleting a token"))?;
    Ok(Response::empty(204))
}

/// The token `id` if it exists, belongs to `project` and is active; otherwise the same 404
/// whatever the reason, so nothing about other projects leaks. A malformed id costs no read.
async fn find_active<K: Kv, L, I, O>(
    ctx: &Context<'_, K, L, I, O>,
    project: &ProjectId,
    id: &str,
) -> Result<TokenRecord, ApiError> {
    let not_found = || ApiError::not_found("uploadToken");
    let id = TokenId::parse(id).ok_or_else(not_found)?;
    let record = ctx
        .store
        .load(&id)
        .await
        .map_err(internal("reading a token"))?;
    record
        .filter(|r| &r.project == project && r.token.is_active(ctx.now))
        .ok_or_else(not_found)
}
