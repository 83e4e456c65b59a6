//! `POST /upload?token=`, `GET /videos/{videoId}` and `GET /videos/{videoId}/source`: the
//! delegated upload into R2, driven by the rules in `upload_tokens_core::upload`.
//!
//! Chunk bytes never enter wasm memory, and no chunk is ever held whole: the multipart body is
//! read as it arrives by `js/multipart.js`, which stages the file in R2 five MiB at a time;
//! once the chunk is accepted, the staged object is piped to its place (and assembly pipes
//! stored chunks into one object), all on the JavaScript side.

use crate::index::DurableObjectTransport;
use crate::kv::WorkersKv;
use js_sys::{BigInt, Object, Reflect};
use std::collections::HashMap;
use upload_tokens_core::config::Config;
use upload_tokens_core::http::problem::ApiError;
use upload_tokens_core::http::{
    authenticate, check_rate_limit, project_limit_key, LimitScope, Limiter, Response,
};
use upload_tokens_core::ids::{SystemEntropy, TokenId, VideoId};
use upload_tokens_core::project::ProjectId;
use upload_tokens_core::storage::index::{CommandIndex, TokenIndex, TokenStatus};
use upload_tokens_core::time::{from_millis, UnixSeconds};
use upload_tokens_core::tokens::store::TokenStore;
use upload_tokens_core::videos::rules::{
    self as upload, completion, invalid_token, objects, plan_chunk, video_not_found, ChunkPlan,
    ContentRange, Ingest, StoredChunk, UploadMode, VideoRecord,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::web_sys::Request;
use worker::{Bucket, Env, Include};

/// The R2 binding holding videos.
pub const BUCKET_BINDING: &str = "VIDEOS";

/// Smallest `cacheTtl` KV accepts: the upload path reads tokens as freshly as KV allows.
const TOKEN_CACHE_TTL: u64 = 30;

/// Headers a browser uploader sends on `/upload`, which the preflight allows.
const ALLOWED_HEADERS: &str =
    "Content-Range, Content-Type, AV-Origin-Client, AV-Origin-App, AV-Origin-Sdk, Authorization";

/// Adds the CORS headers every answer of `/upload` carries, errors included (without them a
/// browser reports a failed upload as a network error and retries it for minutes).
pub fn with_cors(mut r: Response) -> Response {
    r.headers
        .push(("Access-Control-Allow-Origin", "*".to_owned()));
    r.headers.push((
        "Access-Control-Expose-Headers",
        "X-RateLimit-Limit, X-RateLimit-Retry-After, Retry-After".to_owned(),
    ));
    r
}

/// The answer to `OPTIONS /upload`.
pub fn preflight() -> Response {
    let mut r = Response::empty(204);
    r.headers.extend([
        ("Access-Control-Allow-Methods", "POST, OPTIONS".to_owned()),
        ("Access-Control-Allow-Headers", ALLOWED_HEADERS.to_owned()),
        ("Access-Control-Max-Age", "86400".to_owned()),
    ]);
    with_cors(r)
}

fn internal(what: &'static str) -> impl Fn(worker::Error) -> ApiError {
    move |e| ApiError::internal(format!("{what}: {e}"))
}

fn js_internal(what: &'static str) -> impl Fn(JsValue) -> ApiError {
    move |e| ApiError::internal(format!("{what}: {e:?}"))
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/js/multipart.js")]
extern "C" {
    /// See `stageMultipart` in `js/multipart.js`.
    #[wasm_bindgen(js_name = stageMultipart)]
    fn stage_multipart(
        request: &web_sys::Request,
        bucket: &JsValue,
        staging_prefix: &str,
        max_file_bytes: f64,
    ) -> js_sys::Promise;
}

/// A file part of the request, staged in R2 under `key`.
struct StagedFile {
    key: String,
    name: String,
    content_type: String,
    size: u64,
}

/// The parts of an upload request's multipart body that matter.
struct UploadForm {
    file: StagedFile,
    video_id: Option<String>,
}

fn js_string(object: &JsValue, name: &str) -> Option<String> {
    Reflect::get(object, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.as_string())
}

/// Reads the multipart body as it arrives and stages its file parts in R2 (their keys go into
/// `staged`, for the caller to delete once done), taking the single file part whatever its
/// field name, and an optional `videoId` field before or after it.
async fn stage_form(
    req: &Request,
    bucket: &Bucket,
    staged: &mut Vec<String>,
) -> Result<UploadForm, ApiError> {
    let promise = stage_multipart(
        req,
        bucket.as_ref(),
        objects::STAGING_PREFIX,
        upload::MAX_CHUNK as f64,
    );
    let result = JsFuture::from(promise)
        .await
        .map_err(js_internal("reading the upload body"))?;
    let files: js_sys::Array = Reflect::get(&result, &"files".into())
        .map_err(js_internal("reading the upload body"))?
        .unchecked_into();
    let mut parts = Vec::new();
    for file in files.iter() {
        let key = js_string(&file, "key").unwrap_or_default();
        staged.push(key.clone());
        parts.push(StagedFile {
            key,
            name: js_string(&file, "filename").unwrap_or_default(),
            content_type: js_string(&file, "type").unwrap_or_default(),
            size: Reflect::get(&file, &"size".into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0) as u64,
        });
    }
    match js_string(&result, "error").as_deref() {
        None => {}
        Some("too-large") => return Err(upload::too_large()),
        Some(_) => return Err(upload::not_multipart()),
    }
    if parts.len() > 1 {
        return Err(upload::multiple_files());
    }
    let file = parts.pop().ok_or_else(upload::no_file)?;
    let fields = Reflect::get(&result, &"fields".into()).unwrap_or(JsValue::UNDEFINED);
    let video_id = js_string(&fields, "videoId")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    Ok(UploadForm { file, video_id })
}

/// Deletes objects a request staged, whatever became of it.
async fn delete_staged(bucket: &Bucket, staged: Vec<String>) -> Result<(), ApiError> {
    if staged.is_empty() {
        return Ok(());
    }
    bucket
        .delete_multiple(staged)
        .await
        .map_err(internal("removing a staged file"))
}

/// A video's record and the state of its upload, read from R2.
struct VideoState {
    record: VideoRecord,
    chunks: Vec<StoredChunk>,
    complete: bool,
    /// Size and chunk count of the assembled file, once there is one.
    assembled: Option<(u64, u64)>,
    /// Latest write of any of its objects.
    updated_at: UnixSeconds,
}

/// The text of a small R2 object (a record or a marker), if it exists.
async fn get_text(bucket: &Bucket, key: &str) -> Result<Option<String>, ApiError> {
    let Some(object) = bucket
        .get(key)
        .execute()
        .await
        .map_err(internal("reading upload state"))?
    else {
        return Ok(None);
    };
    let body = object
        .body()
        .ok_or_else(|| ApiError::internal("an upload state object has no body"))?;
    body.text()
        .await
        .map(Some)
        .map_err(internal("reading upload state"))
}

async fn load_record(bucket: &Bucket, video: &str) -> Result<Option<VideoRecord>, ApiError> {
    let Some(body) = get_text(bucket, &objects::meta(video)).await? else {
        return Ok(None);
    };
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("a video record is unreadable: {e}")))
}

/// The chunks stored for `video`, and the latest time one was written (or `since`).
async fn list_chunks(
    bucket: &Bucket,
    video: &str,
    since: UnixSeconds,
) -> Result<(Vec<StoredChunk>, UnixSeconds), ApiError> {
    let mut chunks = Vec::new();
    let mut updated_at = since;
    let mut cursor: Option<String> = None;
    loop {
        let mut list = bucket
            .list()
            .prefix(objects::chunk_prefix(video))
            .include(vec![Include::CustomMetadata]);
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await.map_err(internal("listing chunks"))?;
        for object in page.objects() {
            let Some(start) = objects::chunk_start(&object.key()) else {
                continue;
            };
            let metadata = object.custom_metadata().unwrap_or_default();
            chunks.push(StoredChunk {
                start,
                size: object.size(),
                total: objects::parse_total(metadata.get("total").map(String::as_str)),
            });
            updated_at = updated_at.max(from_millis(object.uploaded().as_millis() as f64));
        }
        match page.cursor() {
            Some(c) if page.truncated() => cursor = Some(c),
            _ => break,
        }
    }
    Ok((chunks, updated_at))
}

async fn load_state(bucket: &Bucket, record: VideoRecord) -> Result<VideoState, ApiError> {
    let video = record.video_id.clone();
    let (mut chunks, mut updated_at) = list_chunks(bucket, &video, record.created_at).await?;
    let source = bucket
        .head(objects::source(&video))
        .await
        .map_err(internal("reading a video source"))?;
    let mut assembled = None;
    if let Some(source) = &source {
        updated_at = updated_at.max(from_millis(source.uploaded().as_millis() as f64));
        let count = source
            .custom_metadata()
            .ok()
            .and_then(|m| m.get("chunks").and_then(|c| c.parse().ok()))
            .unwrap_or(1);
        assembled = Some((source.size(), count));
        if record.mode == UploadMode::Whole {
            chunks.push(StoredChunk {
                start: 0,
                size: source.size(),
                total: Some(source.size()),
            });
        }
    }
    Ok(VideoState {
        record,
        chunks,
        complete: source.is_some(),
        assembled,
        updated_at,
    })
}

/// The options object of an R2 `put`: the media type and custom metadata.
fn put_options(content_type: Option<&str>, custom: &[(&str, &str)]) -> Result<Object, ApiError> {
    let set = |o: &Object, k: &str, v: &JsValue| Reflect::set(o, &JsValue::from_str(k), v);
    let build = || {
        let options = Object::new();
        let custom_metadata = Object::new();
        for (k, v) in custom {
            set(&custom_metadata, k, &JsValue::from_str(v))?;
        }
        set(&options, "customMetadata", &custom_metadata)?;
        if let Some(ct) = content_type {
            let http = Object::new();
            set(&http, "contentType", &JsValue::from_str(ct))?;
            set(&options, "httpMetadata", &http)?;
        }
        Ok(options)
    };
    build().map_err(js_internal("building R2 options"))
}

async fn put_text(bucket: &Bucket, key: &str, text: String) -> Result<(), ApiError> {
    bucket
        .put(key, text)
        .execute()
        .await
        .map(|_| ())
        .map_err(internal("writing upload state"))
}

/// Pipes the objects `sources` (of `total` bytes together), in order, into one object `dest`
/// written with `options`: a fixed-length stream is handed to R2 and each source's body is
/// piped into it, all on the JavaScript side.
async fn concat_objects(
    bucket: &Bucket,
    sources: &[String],
    total: u64,
    dest: &str,
    options: Object,
) -> Result<(), ApiError> {
    let fixed = worker::worker_sys::FixedLengthStream::new_big_int(BigInt::from(total))
        .map_err(js_internal("streaming into R2"))?;
    let transform: &web_sys::TransformStream = fixed.unchecked_ref();
    let (readable, writable) = (transform.readable(), transform.writable());
    let raw: &worker::worker_sys::R2Bucket = bucket.as_ref().unchecked_ref();
    let put = JsFuture::from(
        raw.put(dest.to_owned(), readable.into(), options.into())
            .map_err(js_internal("streaming into R2"))?,
    );
    let pipe_options = web_sys::StreamPipeOptions::new();
    pipe_options.set_prevent_close(true);
    let piped = async {
        for source in sources {
            let promise = raw
                .get(source.clone(), JsValue::UNDEFINED)
                .map_err(js_internal("reading a chunk"))?;
            let object = JsFuture::from(promise)
                .await
                .map_err(js_internal("reading a chunk"))?;
            if object.is_null() || object.is_undefined() {
                return Err(ApiError::internal("an object vanished while being piped"));
            }
            let body: web_sys::ReadableStream = Reflect::get(&object, &"body".into())
                .map_err(js_internal("reading a chunk"))?
                .unchecked_into();
            JsFuture::from(body.pipe_to_with_options(&writable, &pipe_options))
                .await
                .map_err(js_internal("piping a chunk"))?;
        }
        JsFuture::from(writable.close())
            .await
            .map_err(js_internal("closing the stream"))?;
        Ok::<(), ApiError>(())
    };
    let piped = async {
        let result = piped.await;
        if result.is_err() {
            // Without this the put would wait for the rest of the stream for ever.
            let _ = JsFuture::from(writable.abort()).await;
        }
        result
    };
    let (piped, put) = futures_util::join!(piped, put);
    piped?;
    put.map_err(js_internal("storing into R2"))?;
    Ok(())
}

/// Concatenates the chunks, in order, into the video's source object.
async fn assemble(
    bucket: &Bucket,
    record: &VideoRecord,
    order: &[StoredChunk],
) -> Result<(), ApiError> {
    let total: u64 = order.iter().map(|c| c.size).sum();
    let count = order.len().to_string();
    let options = put_options(Some(&record.content_type), &[("chunks", &count)])?;
    let sources: Vec<String> = order
        .iter()
        .map(|c| objects::chunk(&record.video_id, c.start))
        .collect();
    concat_objects(
        bucket,
        &sources,
        total,
        &objects::source(&record.video_id),
        options,
    )
    .await
}

/// Removes an upload's chunks and bookkeeping once its source is assembled (or abandoned).
async fn remove_upload_state(
    bucket: &Bucket,
    video: &str,
    chunks: &[StoredChunk],
    open_key: Option<&str>,
) -> Result<(), ApiError> {
    let mut keys: Vec<String> = chunks
        .iter()
        .map(|c| objects::chunk(video, c.start))
        .collect();
    keys.push(objects::pending(video));
    if let Some(open) = open_key {
        keys.push(open.to_owned());
    }
    for batch in keys.chunks(1000) {
        bucket
            .delete_multiple(batch.to_vec())
            .await
            .map_err(internal("removing upload state"))?;
    }
    Ok(())
}

/// Who may send this chunk: the project, if the token is active, or the video's own project
/// if the token that opened it has since expired (never if it was deleted).
fn chunk_project(
    token: &TokenId,
    active: Option<&ProjectId>,
    video: Option<&VideoRecord>,
    now: UnixSeconds,
) -> Result<ProjectId, ApiError> {
    match (active, video) {
        (Some(project), Some(v)) if v.project != project.as_str() => Err(video_not_found()),
        (Some(project), _) => Ok(project.clone()),
        (None, Some(v)) if v.accepts_vanished_token(token, now) => ProjectId::parse(&v.project)
            .ok_or_else(|| ApiError::internal("a video record names an invalid project")),
        (None, _) => Err(invalid_token(false)),
    }
}

/// Handles `POST /upload?token=`.
pub async fn upload<L: Limiter>(
    req: &Request,
    env: &Env,
    config: &Config,
    limiter: &L,
    now: UnixSeconds,
) -> Response {
    let mut log = None;
    let mut staged = Vec::new();
    let mut answer = match try_upload(req, env, config, limiter, now, &mut log, &mut staged).await {
        Ok(r) => r,
        Err(e) => Response::error(e),
    };
    // Staged files were copied where they belong, or refused: either way they go.
    if let Ok(bucket) = env.bucket(BUCKET_BINDING) {
        if let Err(e) = delete_staged(&bucket, staged).await {
            // A leftover is removed by the periodic cleanup; the answer stands.
            log = log.or(e.log_detail.clone());
        }
    }
    answer = with_cors(answer);
    answer
        .headers
        .push(("X-RateLimit-Limit", config.api_limit.limit.to_string()));
    if answer.log.is_none() {
        answer.log = log;
    }
    answer
}

async fn try_upload<L: Limiter>(
    req: &Request,
    env: &Env,
    config: &Config,
    limiter: &L,
    now: UnixSeconds,
    log: &mut Option<String>,
    staged: &mut Vec<String>,
) -> Result<Response, ApiError> {
    let url = req.url();
    let (_, query) = upload_tokens_core::http::split_url(&url);
    let raw_token = upload_tokens_core::http::query_param(query, "token")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid_token(true))?;
    let token = TokenId::parse(&raw_token).ok_or_else(|| invalid_token(false))?;
    let kv = WorkersKv::new(env, crate::KV_BINDING).map_err(internal("binding KV"))?;
    let tokens = TokenStore::new(kv.with_cache_ttl(TOKEN_CACHE_TTL));
    let record = tokens
        .load(&token)
        .await
        .map_err(|e| ApiError::internal(format!("reading a token: {e}")))?;
    // The project's index is the authority on whether the token may upload: KV may still hold
    // the record of a token deleted elsewhere a moment ago, and an expired token looks the same
    // in KV whether it was deleted or not.
    let index = CommandIndex::new(DurableObjectTransport::new(env));
    let status = match &record {
        Some(r) => Some(
            index
                .status(&r.project, &token, now)
                .await
                .map_err(|e| ApiError::internal(format!("asking the project index: {e}")))?,
        ),
        None => None,
    };
    if status == Some(TokenStatus::Absent) {
        // Deleted: refused before a byte of the body is read.
        return Err(invalid_token(false));
    }
    let active = record
        .as_ref()
        .filter(|r| status == Some(TokenStatus::Active) && r.token.is_active(now))
        .map(|r| &r.project);

    let bucket = env.bucket(BUCKET_BINDING).map_err(internal("binding R2"))?;

    // A token that is gone may only finish an upload it opened: without one, it is refused
    // before a byte of the body is read.
    if active.is_none() && !has_open_upload(&bucket, &token).await? {
        return Err(invalid_token(false));
    }
    let range_header = req.headers().get("Content-Range").ok().flatten();
    let range = ContentRange::parse(range_header.as_deref());
    if let (Some(_), Err(e)) = (active, &range) {
        return Err(e.clone());
    }
    // A bad body from a token that cannot upload at all is still a 401.
    let form = match stage_form(req, &bucket, staged).await {
        Ok(form) => form,
        Err(e) if active.is_some() => return Err(e),
        Err(_) => return Err(invalid_token(false)),
    };
    let file_name = upload::decode_file_name(&form.file.name);
    let size = form.file.size;

    // Which video this chunk joins: the one named, or the token's open upload of the same
    // total and file name, or none (a new video).
    let named = match &form.video_id {
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
            Some(
                load_record(&bucket, id.as_str())
                    .await?
                    .ok_or_else(missing)?,
            )
        }
        None => None,
    };
    let (video, open_key) = match (named, range.as_ref().ok().and_then(ContentRange::chunked)) {
        (Some(v), _) => (Some(v), None),
        (None, Some((mode, total))) => {
            let mut candidates = vec![objects::open(token.as_str(), mode, total, &file_name)];
            if mode == UploadMode::Part && total.is_some() {
                candidates.push(objects::open(token.as_str(), mode, None, &file_name));
            }
            let mut found = (None, Some(candidates[0].clone()));
            for key in candidates {
                if let Some(id) = get_text(&bucket, &key).await? {
                    if let Some(v) = load_record(&bucket, id.trim()).await? {
                        found = (Some(v), Some(key));
                        break;
                    }
                }
            }
            found
        }
        (None, _) => (None, None),
    };
    let project = chunk_project(&token, active, video.as_ref(), now)?;
    if active.is_none() {
        // An expired token finishing its upload: only if the index has not forgotten it (it
        // forgets a deleted token at once, an expired one after the uploads' stale time).
        let known = match (&record, status) {
            (Some(r), Some(s)) if r.project == project => s,
            _ => index
                .status(&project, &token, now)
                .await
                .map_err(|e| ApiError::internal(format!("asking the project index: {e}")))?,
        };
        if known == TokenStatus::Absent {
            return Err(invalid_token(false));
        }
    }
    check_rate_limit(
        limiter,
        LimitScope::Api,
        config.api_limit,
        &project_limit_key(&project),
        log,
    )
    .await?;
    let range = range?;

    let state = match video {
        Some(record) => Some(load_state(&bucket, record).await?),
        None => None,
    };
    let plan = plan_chunk(
        state.as_ref().map(|s| (s.record.mode, s.chunks.as_slice())),
        state.as_ref().and_then(|s| s.assembled),
        &range,
        size,
    )?;

    let mut state = match state {
        Some(s) => s,
        None => {
            let id = VideoId::generate(&mut SystemEntropy);
            let expires_at = record.as_ref().and_then(|r| r.token.expires_at());
            let record = VideoRecord::new(
                &id,
                &project,
                &token,
                expires_at,
                &file_name,
                range.mode(),
                now,
            )
            .with_content_type(&form.file.content_type);
            let json =
                serde_json::to_string(&record).map_err(|e| ApiError::internal(e.to_string()))?;
            // The pending marker goes first, so the cleanup can find whatever follows.
            put_text(
                &bucket,
                &objects::pending(&record.video_id),
                open_key.clone().unwrap_or_default(),
            )
            .await?;
            put_text(&bucket, &objects::meta(&record.video_id), json).await?;
            if let Some(key) = &open_key {
                put_text(&bucket, key, record.video_id.clone()).await?;
            }
            VideoState {
                record,
                chunks: Vec::new(),
                complete: false,
                assembled: None,
                updated_at: now,
            }
        }
    };
    let vid = state.record.video_id.clone();
    if let ChunkPlan::Store { start, total } = plan {
        let staged_file = std::slice::from_ref(&form.file.key);
        if range.mode() == UploadMode::Whole {
            let options = put_options(Some(&state.record.content_type), &[])?;
            concat_objects(&bucket, staged_file, size, &objects::source(&vid), options).await?;
            remove_upload_state(&bucket, &vid, &[], None).await?;
            state.complete = true;
        } else {
            let total = objects::total_value(total);
            let options = put_options(None, &[("total", &total)])?;
            concat_objects(
                &bucket,
                staged_file,
                size,
                &objects::chunk(&vid, start),
                options,
            )
            .await?;
        }
        state.updated_at = now;
    }
    if !state.complete && state.record.mode != UploadMode::Whole {
        // Listed afresh: chunks sent at the same time by other requests count too (R2 lists are
        // strongly consistent), so whichever request stores the last one sees it complete.
        let (chunks, _) = list_chunks(&bucket, &vid, now).await?;
        if let Some(order) = completion(state.record.mode, &chunks) {
            finish_upload(&bucket, &state.record, &order).await?;
        }
    }
    let body = serde_json::to_string(&state.record.view(state.updated_at, None))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Response::json(201, body))
}

/// Assembles a complete upload and removes its chunks. Two requests may find the same upload
/// complete at once: both assemble the same bytes, and one that loses its chunks to the other's
/// clean-up midway is fine as long as the other's source is there.
async fn finish_upload(
    bucket: &Bucket,
    record: &VideoRecord,
    order: &[StoredChunk],
) -> Result<(), ApiError> {
    let video = &record.video_id;
    if let Err(e) = assemble(bucket, record, order).await {
        let assembled = bucket
            .head(objects::source(video))
            .await
            .map_err(internal("reading a video source"))?;
        if assembled.is_none() {
            return Err(e);
        }
    }
    let open = open_key_of(bucket, video).await?;
    remove_upload_state(bucket, video, order, open.as_deref()).await
}

/// Whether `token` opened an upload that is not finished yet.
async fn has_open_upload(bucket: &Bucket, token: &TokenId) -> Result<bool, ApiError> {
    let open = bucket
        .list()
        .prefix(objects::open_prefix(token.as_str()))
        .limit(1)
        .execute()
        .await
        .map_err(internal("listing open uploads"))?;
    Ok(!open.objects().is_empty())
}

/// The correlation key an unfinished upload registered, kept in its pending marker.
async fn open_key_of(bucket: &Bucket, video: &str) -> Result<Option<String>, ApiError> {
    let text = get_text(bucket, &objects::pending(video)).await?;
    Ok(text.filter(|t| !t.is_empty()))
}

/// The video `raw` of the caller's project, or a 404.
async fn owned_video(
    bucket: &Bucket,
    project: &ProjectId,
    raw: &str,
) -> Result<VideoRecord, ApiError> {
    let id = VideoId::parse(raw).ok_or_else(video_not_found)?;
    load_record(bucket, id.as_str())
        .await?
        .filter(|v| v.project == project.as_str())
        .ok_or_else(video_not_found)
}

/// Authenticates an API-key call and counts it against the project's limit.
async fn authorized<L: Limiter>(
    req: &Request,
    config: &Config,
    limiter: &L,
    now: UnixSeconds,
    log: &mut Option<String>,
) -> Result<ProjectId, ApiError> {
    let authorization = req.headers().get("Authorization").ok().flatten();
    let project = authenticate(config, authorization.as_deref(), now)?;
    check_rate_limit(
        limiter,
        LimitScope::Api,
        config.api_limit,
        &project_limit_key(&project),
        log,
    )
    .await?;
    Ok(project)
}

/// Handles `GET /videos/{videoId}`: the Video with its upload status.
pub async fn get_video<L: Limiter>(
    req: &Request,
    env: &Env,
    config: &Config,
    limiter: &L,
    now: UnixSeconds,
    raw: &str,
) -> Response {
    let mut log = None;
    let result = async {
        let project = authorized(req, config, limiter, now, &mut log).await?;
        let bucket = env.bucket(BUCKET_BINDING).map_err(internal("binding R2"))?;
        let record = owned_video(&bucket, &project, raw).await?;
        let state = load_state(&bucket, record).await?;
        let ingest = match state.assembled {
            Some((size, count)) => Ingest::uploaded(state.record.mode, size, count),
            None => Ingest::uploading(state.record.mode, &state.chunks),
        };
        serde_json::to_string(&state.record.view(state.updated_at, Some(ingest)))
            .map(|body| Response::json(200, body))
            .map_err(|e| ApiError::internal(e.to_string()))
    }
    .await;
    finish(result, config, log)
}

fn finish(result: Result<Response, ApiError>, config: &Config, log: Option<String>) -> Response {
    let mut r = result.unwrap_or_else(Response::error);
    if r.header("X-RateLimit-Limit").is_none() {
        r.headers
            .push(("X-RateLimit-Limit", config.api_limit.limit.to_string()));
    }
    if r.log.is_none() {
        r.log = log;
    }
    r
}

/// The stored file of a video, streamed from R2.
pub enum Source {
    Stream {
        body: web_sys::ReadableStream,
        headers: Vec<(&'static str, String)>,
    },
    Answer(Response),
}

/// Handles `GET /videos/{videoId}/source`.
pub async fn get_source<L: Limiter>(
    req: &Request,
    env: &Env,
    config: &Config,
    limiter: &L,
    now: UnixSeconds,
    raw: &str,
) -> Source {
    let mut log = None;
    let result = async {
        let project = authorized(req, config, limiter, now, &mut log).await?;
        let bucket = env.bucket(BUCKET_BINDING).map_err(internal("binding R2"))?;
        let record = owned_video(&bucket, &project, raw).await?;
        let raw_bucket: &worker::worker_sys::R2Bucket = bucket.as_ref().unchecked_ref();
        let promise = raw_bucket
            .get(objects::source(&record.video_id), JsValue::UNDEFINED)
            .map_err(js_internal("reading a source"))?;
        let object = JsFuture::from(promise)
            .await
            .map_err(js_internal("reading a source"))?;
        if object.is_null() || object.is_undefined() {
            return Err(ApiError::new(
                404,
                "resource-not-found",
                "The video source has not been fully uploaded yet.",
            )
            .named("videoId"));
        }
        let size = Reflect::get(&object, &"size".into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0) as u64;
        let body: web_sys::ReadableStream = Reflect::get(&object, &"body".into())
            .map_err(js_internal("reading a source"))?
            .unchecked_into();
        let mut headers: HashMap<&'static str, String> = HashMap::new();
        headers.insert("Content-Type", record.content_type.clone());
        // A download, never a page rendered from the API's origin.
        headers.insert("X-Content-Type-Options", "nosniff".to_owned());
        headers.insert(
            "Content-Disposition",
            format!(
                "attachment; filename=\"{}.{}\"",
                record.video_id,
                extension_of(&record.title)
            ),
        );
        headers.insert("Content-Length", size.to_string());
        headers.insert("X-RateLimit-Limit", config.api_limit.limit.to_string());
        Ok((body, headers.into_iter().collect()))
    }
    .await;
    match result {
        Ok((body, headers)) => Source::Stream { body, headers },
        Err(e) => Source::Answer(finish(Err(e), config, log)),
    }
}

/// Removes unfinished uploads that received nothing for `stale_after` seconds: their chunks,
/// record and bookkeeping, and staged files left behind. Bounded per run so one invocation stays
/// within the runtime's limits; the next run carries on. Returns how many were removed.
pub async fn remove_stale_uploads(
    env: &Env,
    now: UnixSeconds,
    stale_after: u32,
) -> Result<usize, ApiError> {
    const MAX_PER_RUN: u32 = 100;
    let bucket = env.bucket(BUCKET_BINDING).map_err(internal("binding R2"))?;
    let pending = bucket
        .list()
        .prefix(objects::PENDING_PREFIX)
        .limit(MAX_PER_RUN)
        .execute()
        .await
        .map_err(internal("listing unfinished uploads"))?;
    // Staged files a request did not live to delete.
    let staged = bucket
        .list()
        .prefix(objects::STAGING_PREFIX)
        .limit(MAX_PER_RUN)
        .execute()
        .await
        .map_err(internal("listing staged files"))?;
    let leftovers: Vec<String> = staged
        .objects()
        .iter()
        .filter(|o| {
            now - from_millis(o.uploaded().as_millis() as f64) >= UnixSeconds::from(stale_after)
        })
        .map(|o| o.key())
        .collect();
    let mut removed = leftovers.len();
    delete_staged(&bucket, leftovers).await?;
    for marker in pending.objects() {
        let key = marker.key();
        let video = key.trim_start_matches(objects::PENDING_PREFIX).to_owned();
        let mut last = from_millis(marker.uploaded().as_millis() as f64);
        let chunks = bucket
            .list()
            .prefix(objects::chunk_prefix(&video))
            .execute()
            .await
            .map_err(internal("listing chunks"))?;
        for chunk in chunks.objects() {
            last = last.max(from_millis(chunk.uploaded().as_millis() as f64));
        }
        if now - last < UnixSeconds::from(stale_after) {
            continue;
        }
        let open = open_key_of(&bucket, &video).await?;
        let mut keys: Vec<String> = chunks.objects().iter().map(|c| c.key()).collect();
        keys.push(objects::meta(&video));
        keys.push(objects::source(&video));
        if let Some(open) = open {
            keys.push(open);
        }
        // The marker last: if anything above fails, the next run tries again.
        keys.push(key);
        for batch in keys.chunks(1000) {
            bucket
                .delete_multiple(batch.to_vec())
                .await
                .map_err(internal("removing a stale upload"))?;
        }
        removed += 1;
    }
    Ok(removed)
}

/// A short, safe extension for the download name: the title's, if it is plain letters and
/// digits, else `bin`.
fn extension_of(title: &str) -> &str {
    title
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or("bin")
}
