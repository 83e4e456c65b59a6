//! `POST /upload?token=`: which project and video a chunk belongs to, whether it may join it,
//! and what is written where. Chunk bytes never pass through here: the body is staged in object
//! storage as it arrives ([`Body::stage`]) and moved into place with [`Objects::concat`].
//!
//! What an interruption leaves, step by step (the cleanup removes what an unfinished upload
//! left once it is stale):
//! 1. a new video writes its pending marker, then its record, then its correlation key: a
//!    marker alone, or marker and record, are an unfinished upload the cleanup finds;
//! 2. a chunk is copied from its staging object to its place: before that, nothing changed
//!    (the staging object is deleted by the request, or by the cleanup if the request died);
//! 3. the last chunk assembles the source, then removes chunks, marker and correlation key:
//!    stopped before the source is written, the chunks are all there and the client's retry of
//!    the last chunk assembles again; stopped after, the source stands and the retry is
//!    answered as already stored. A whole-file upload cannot be retried into the same video,
//!    so once its source stands it is answered 201 even if removing its marker failed (logged;
//!    the cleanup removes the marker and keeps the video).
//!
//! A token's policy is checked at the points [`super::policy`] lists; a refused chunk leaves
//! nothing behind, and a new video is counted against the token's `maxUploads` just before
//! step 1 (a failure after that leaves the count spent: never more videos than allowed).

use super::keys::{chunk_total, ObjectKey, CHUNK_SHA256, STAGING_PREFIX};
use super::policy::{self, FileLimit};
use super::record::VideoRecord;
use super::rules::{
    self, completion, decode_file_name, invalid_token, plan_chunk, video_not_found, ChunkPlan,
    ContentRange, UploadMode,
};
use super::state::{
    find_open_upload, finish_upload, has_open_upload, internal, list_chunks, load_record,
    load_state, open_key_of, open_video, remove_upload_state, VideoState,
};
use crate::http::cors::bound_to_origin;
use crate::http::problem::ApiError;
use crate::http::{
    check_rate_limit, project_limit_key, query_param, Body, Context, FormError, LimitScope,
    Limiter, Request, Response, StagedForm,
};
use crate::ids::{TokenId, VideoId};
use crate::project::ProjectId;
use crate::storage::index::{TokenIndex, TokenStatus};
use crate::storage::kv::Kv;
use crate::storage::objects::{delete_all, Concat, ObjectMeta, Objects};
use crate::time::UnixSeconds;

/// Smallest `cacheTtl` KV accepts: the upload path reads tokens as freshly as KV allows.
const TOKEN_CACHE_TTL: u32 = 30;

/// Who may send this chunk: the project, if the token is active, or the video's own project
/// if the token that opened it has since expired (never if it was deleted).
pub fn chunk_project(
    token: &TokenId,
    active: Option<&ProjectId>,
    video: Option<&VideoRecord>,
    now: UnixSeconds,
) -> Result<ProjectId, ApiError> {
    match (active, video) {
        (Some(project), Some(v)) if &v.project != project => Err(video_not_found()),
        (Some(project), _) => Ok(project.clone()),
        (None, Some(v)) if v.accepts_vanished_token(token, now) => Ok(v.project.clone()),
        (None, _) => Err(invalid_token(false)),
    }
}

/// Handles `POST /upload?token=`. Staged files are removed whatever became of the request; a
/// failure to remove one is logged (the cleanup removes it later), and the answer stands. The
/// answers for a token with `allowedOrigins` are marked so that their CORS headers name the
/// request's origin.
pub async fn upload<K: Kv, L: Limiter, I: TokenIndex, O: Objects, B: Body>(
    ctx: &mut Context<'_, K, L, I, O>,
    req: &Request<'_>,
    body: B,
    log: &mut Option<String>,
    request_id: &str,
) -> Result<Response, ApiError> {
    let mut staged = Vec::new();
    // The request's staged files are named after it, so a leftover can be traced to its log.
    let prefix = format!("{STAGING_PREFIX}{request_id}.");
    let mut names_origin = false;
    let answer = try_upload(ctx, req, body, log, &mut staged, &prefix, &mut names_origin).await;
    if let Err(e) = delete_all(ctx.objects, &staged).await {
        *log = log
            .take()
            .or_else(|| Some(format!("removing a staged file: {e}")));
    }
    if names_origin {
        return bound_to_origin(answer);
    }
    answer
}

/// Stages the body; a bad body from a token that cannot upload at all is still a 401.
async fn stage<B: Body>(
    body: B,
    prefix: &str,
    active: bool,
    staged: &mut Vec<String>,
    limit: FileLimit,
) -> Result<StagedForm, ApiError> {
    let form = match body.stage(prefix, limit.bytes()).await {
        Ok(form) => form,
        Err(_) if !active => return Err(invalid_token(false)),
        Err(FormError::TooLarge) => return Err(limit.too_large()),
        Err(FormError::NotMultipart | FormError::Malformed) => return Err(rules::not_multipart()),
        Err(FormError::Failed(e)) => {
            return Err(ApiError::internal(format!("reading the upload body: {e}")))
        }
    };
    staged.extend(form.files.iter().map(|f| f.key.clone()));
    match form.files.len() {
        1 => Ok(form),
        _ if !active => Err(invalid_token(false)),
        0 => Err(rules::no_file()),
        _ => Err(rules::multiple_files()),
    }
}

async fn try_upload<K: Kv, L: Limiter, I: TokenIndex, O: Objects, B: Body>(
    ctx: &mut Context<'_, K, L, I, O>,
    req: &Request<'_>,
    body: B,
    log: &mut Option<String>,
    staged: &mut Vec<String>,
    staging_prefix: &str,
    names_origin: &mut bool,
) -> Result<Response, ApiError> {
    let now = ctx.now;
    let raw_token = query_param(req.query, "token")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid_token(true))?;
    let token = TokenId::parse(&raw_token).ok_or_else(|| invalid_token(false))?;
    let record = ctx
        .store
        .load_cached(&token, TOKEN_CACHE_TTL)
        .await
        .map_err(internal("reading a token"))?;
    // Unknown, deleted, or expired longer ago than the uploads' stale time (KV keeps a record
    // that long after expiry): refused after this one read, before any other storage call.
    let Some(record) = record else {
        return Err(invalid_token(false));
    };
    *names_origin = policy::names_origin(Some(&record));
    let token_policy = policy::token_policy(Some(&record));
    // The project's index is the authority on whether the token may upload: KV may still hold
    // the record of a token deleted elsewhere a moment ago, and an expired token looks the same
    // in KV whether it was deleted or not.
    let status = ctx
        .index
        .status(&record.project, &token, now)
        .await
        .map_err(internal("asking the project index"))?;
    if status == TokenStatus::Absent {
        // Deleted: refused before a byte of the body is read.
        return Err(invalid_token(false));
    }
    // The index judges expiry from the same `expiresAt` the record holds, at the same `now`.
    let active = (status == TokenStatus::Active).then_some(&record.project);
    let api_limit = ctx.config.api_limit;
    if let Some(project) = active {
        // The project is known: its limit is asked before any byte is staged.
        let key = project_limit_key(project);
        check_rate_limit(ctx.limiter, LimitScope::Api, api_limit, &key, log).await?;
    } else if !has_open_upload(ctx.objects, &token).await? {
        // Expired, and it opened no upload it could finish: refused before the body is read.
        return Err(invalid_token(false));
    }

    let range = ContentRange::parse(req.content_range);
    if let (Some(_), Err(e)) = (active, &range) {
        return Err(e.clone());
    }
    policy::check_request(token_policy, req.origin, range.as_ref().ok())?;
    let limit = FileLimit::of(token_policy);
    let form = stage(body, staging_prefix, active.is_some(), staged, limit).await?;
    let file = &form.files[0];
    let file_name = decode_file_name(&file.name);
    let size = file.size;

    // Which video this chunk joins: the one named, or the token's open upload of the same
    // total and file name, or none (a new video).
    let video_id = form
        .video_id
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let named = match video_id {
        Some(raw) => {
            // Without a usable token, say so rather than anything about the video.
            let missing = || {
                if active.is_some() {
                    video_not_found()
                } else {
                    invalid_token(false)
                }
            };
            let id = VideoId::parse(raw).ok_or_else(missing)?;
            Some(load_record(ctx.objects, &id).await?.ok_or_else(missing)?)
        }
        None => None,
    };
    let chunked = range.as_ref().ok().and_then(ContentRange::chunked);
    let (video, open_key) = match (named, chunked) {
        (Some(v), _) => (Some(v), None),
        (None, Some((mode, total))) => {
            find_open_upload(ctx.objects, &token, mode, total, &file_name).await?
        }
        (None, None) => (None, None),
    };
    let project = chunk_project(&token, active, video.as_ref(), now)?;
    if active.is_none() {
        // An expired token finishing its own upload (the index said Expired, not deleted): its
        // project is the video's, known only now.
        let key = project_limit_key(&project);
        check_rate_limit(ctx.limiter, LimitScope::Api, api_limit, &key, log).await?;
    }
    let range = range?;

    let state = match video {
        Some(record) => Some(load_state(ctx.objects, record).await?),
        None => None,
    };
    let mut plan = plan_chunk(
        state.as_ref().map(|s| (s.record.mode, s.chunks.as_slice())),
        state.as_ref().and_then(|s| s.assembled),
        &range,
        size,
    )?;
    let (video, stored) = match &state {
        Some(s) => (Some(&s.record), s.chunks.as_slice()),
        None => (None, &[][..]),
    };
    policy::check_chunk(token_policy, video, req.origin, plan, stored, size)?;
    let mut state = match state {
        Some(s) => s,
        None => {
            policy::claim_new_video(ctx.index, Some(&record), now).await?;
            let expires_at = record.token.expires_at();
            let record = VideoRecord::new(
                &VideoId::generate(ctx.entropy),
                &project,
                &token,
                expires_at,
                &file_name,
                range.mode(),
                now,
            )
            .with_content_type(&file.content_type);
            let record = policy::for_new_video(record, token_policy);
            match open_video(ctx.objects, &record, open_key.as_ref()).await? {
                None => VideoState::new(record, now),
                Some(winner) => {
                    // Another first chunk of this upload opened it a moment before: join it.
                    let state = load_state(ctx.objects, winner).await?;
                    let existing = (state.record.mode, state.chunks.as_slice());
                    plan = plan_chunk(Some(existing), state.assembled, &range, size)?;
                    state
                }
            }
        }
    };
    if plan == ChunkPlan::AlreadyStored {
        // Sent again: accepted only with the bytes it had, or nothing is changed.
        rules::check_same_bytes(&range, state.stored_digest(&range), file.sha256)?;
    }
    let video = state.record.video_id.clone();
    if let ChunkPlan::Store { start, total } = plan {
        // The whole file is the source; a chunk is stored under its start, with its total and
        // the digest of its bytes.
        let whole = range.mode() == UploadMode::Whole;
        let total = chunk_total::format(total);
        let digest = file.sha256.to_string();
        let chunk_meta = [
            (chunk_total::NAME, total.as_str()),
            (CHUNK_SHA256, digest.as_str()),
        ];
        let (dest, meta) = if whole {
            let meta = ObjectMeta {
                content_type: Some(&state.record.content_type),
                custom: &[],
            };
            (ObjectKey::Source(video.clone()), meta)
        } else {
            let meta = ObjectMeta {
                content_type: None,
                custom: &chunk_meta,
            };
            (ObjectKey::Chunk(video.clone(), start), meta)
        };
        let dest = dest.to_string();
        let job = Concat {
            sources: std::slice::from_ref(&file.key),
            total: size,
            dest: &dest,
            meta,
        };
        ctx.objects
            .concat(job)
            .await
            .map_err(internal("storing a file"))?;
        if whole {
            // The source stands: the video is finished, and a client retrying a whole upload
            // would make another one. So a failure to remove its marker is logged, not
            // answered; the cleanup removes the marker later and keeps the video.
            if let Err(e) = remove_upload_state(ctx.objects, &video, &[], None).await {
                let detail = e.log_detail.as_deref().unwrap_or("");
                *log = log.take().or_else(|| {
                    Some(format!(
                        "video {video} stored; removing its marker: {detail}"
                    ))
                });
            }
            state.assembled = Some((size, 1));
        }
        state.updated_at = now;
    }
    if let (ChunkPlan::AlreadyStored, Some(_)) = (plan, state.assembled) {
        // A chunk of a finished video sent again: the client did not see its answer, maybe
        // because removing the upload's bookkeeping failed after assembly. Finish that.
        let open = open_key_of(ctx.objects, &video).await?;
        remove_upload_state(ctx.objects, &video, &state.chunks, open.as_deref()).await?;
    }
    // A whole file was assembled as it was stored, above.
    if state.assembled.is_none() {
        // Listed afresh: chunks sent at the same time by other requests count too (listings are
        // strongly consistent), so whichever request stores the last one sees it complete.
        let listed = list_chunks(ctx.objects, &video, now).await?;
        let chunks = listed.chunks;
        policy::undo_if_over(ctx.objects, token_policy, &state.record, plan, &chunks).await?;
        if let Some(order) = completion(state.record.mode, &chunks) {
            finish_upload(ctx.objects, &state.record, &order).await?;
        } else if let ChunkPlan::Store { start, .. } = plan {
            // A chunk seen before is gone: another request assembled the upload meanwhile (this
            // chunk was a duplicate). Then this one is a stray no cleanup would find: remove it.
            let vanished = state
                .chunks
                .iter()
                .any(|c| !chunks.iter().any(|n| n.start == c.start));
            let source = ObjectKey::Source(video.clone()).to_string();
            if vanished
                && ctx
                    .objects
                    .head(&source)
                    .await
                    .map_err(internal("reading a video source"))?
                    .is_some()
            {
                let stray = [ObjectKey::Chunk(video.clone(), start).to_string()];
                delete_all(ctx.objects, &stray)
                    .await
                    .map_err(internal("removing a chunk"))?;
            }
        }
    }
    let body = serde_json::to_string(&state.record.view(state.updated_at, None))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Response::json(201, body))
}
