//! The state of uploads in object storage: reading a video's record and chunks, finding a
//! token's unfinished upload, and the writes that open, assemble and close an upload.

use super::keys::{
    chunk_total, ObjectKey, OpenUpload, CHUNK_SHA256, SOURCE_CHUNKS, SOURCE_LAST_SHA256,
};
use super::record::VideoRecord;
use super::rules::{ContentRange, StoredChunk, UploadMode};
use crate::digest::ContentDigest;
use crate::http::problem::ApiError;
use crate::ids::{TokenId, VideoId};
use crate::storage::kv::StoreError;
use crate::storage::objects::{delete_all, list_all, Concat, ObjectInfo, ObjectMeta, Objects};
use crate::time::UnixSeconds;

pub(crate) fn internal(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| ApiError::internal(format!("{what}: {e}"))
}

/// A video's record and the state of its upload, read from object storage.
pub(crate) struct VideoState {
    pub record: VideoRecord,
    pub chunks: Vec<StoredChunk>,
    /// Size and chunk count of the assembled file, once there is one.
    pub assembled: Option<(u64, u64)>,
    /// The digest of the assembled file's last chunk, if it was recorded.
    pub last_digest: Option<ContentDigest>,
    /// Latest write of any of its objects.
    pub updated_at: UnixSeconds,
}

impl VideoState {
    /// A new video's state: nothing stored yet.
    pub fn new(record: VideoRecord, now: UnixSeconds) -> Self {
        Self {
            record,
            chunks: Vec::new(),
            assembled: None,
            last_digest: None,
            updated_at: now,
        }
    }

    /// The digest of the bytes already stored for the chunk `range` names: the stored chunk's,
    /// or, once the video is assembled and its chunks are gone, its last chunk's. `None` when no
    /// digest is known: a chunk stored by a version that kept none, or an earlier chunk of an
    /// assembled video.
    pub fn stored_digest(&self, range: &ContentRange) -> Option<ContentDigest> {
        let (start, last) = match *range {
            ContentRange::Part { part, .. } => (part, self.assembled.map(|(_, n)| n) == Some(part)),
            ContentRange::Bytes { from, to, total } => (
                from,
                self.assembled.is_some() && to.checked_add(1) == Some(total),
            ),
            ContentRange::Whole => return None,
        };
        if let Some(stored) = self.chunks.iter().find(|c| c.start == start) {
            return stored.digest;
        }
        self.last_digest.filter(|_| last)
    }
}

pub(crate) async fn load_record<O: Objects>(
    objects: &O,
    video: &VideoId,
) -> Result<Option<VideoRecord>, ApiError> {
    let key = ObjectKey::Meta(video.clone()).to_string();
    let Some(body) = objects
        .get_text(&key)
        .await
        .map_err(internal("reading upload state"))?
    else {
        return Ok(None);
    };
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("a video record is unreadable: {e}")))
}

fn chunk_of(info: &ObjectInfo) -> Option<StoredChunk> {
    let Some(ObjectKey::Chunk(_, start)) = ObjectKey::parse(&info.key) else {
        return None;
    };
    Some(StoredChunk {
        start,
        size: info.size,
        total: chunk_total::parse(info.custom.get(chunk_total::NAME).map(String::as_str)),
        digest: digest_in(info, CHUNK_SHA256),
    })
}

/// The chunks of a video, as listed.
pub(crate) struct ChunkList {
    pub chunks: Vec<StoredChunk>,
    /// The latest time a chunk was written (or the time the listing was asked from).
    pub updated_at: UnixSeconds,
}

/// The chunks stored for `video` and the latest time one was written (or
/// `since`).
pub(crate) async fn list_chunks<O: Objects>(
    objects: &O,
    video: &VideoId,
    since: UnixSeconds,
) -> Result<ChunkList, ApiError> {
    let listed = list_all(objects, &ObjectKey::chunks_of(video))
        .await
        .map_err(internal("listing chunks"))?;
    Ok(ChunkList {
        chunks: listed.iter().filter_map(chunk_of).collect(),
        updated_at: listed.iter().map(|o| o.uploaded).fold(since, i64::max),
    })
}

/// The digest an object's custom metadata `name` holds, if it holds one.
fn digest_in(info: &ObjectInfo, name: &str) -> Option<ContentDigest> {
    info.custom
        .get(name)
        .and_then(|hex| ContentDigest::parse(hex))
}

pub(crate) async fn load_state<O: Objects>(
    objects: &O,
    record: VideoRecord,
) -> Result<VideoState, ApiError> {
    let video = record.video_id.clone();
    let ChunkList {
        chunks,
        mut updated_at,
    } = list_chunks(objects, &video, record.created_at).await?;
    let source = objects
        .head(&ObjectKey::Source(video).to_string())
        .await
        .map_err(internal("reading a video source"))?;
    let mut assembled = None;
    let mut last_digest = None;
    if let Some(source) = &source {
        updated_at = updated_at.max(source.uploaded);
        last_digest = digest_in(source, SOURCE_LAST_SHA256);
        let count = source
            .custom
            .get(SOURCE_CHUNKS)
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        assembled = Some((source.size, count));
    }
    Ok(VideoState {
        record,
        chunks,
        assembled,
        last_digest,
        updated_at,
    })
}

/// The token's unfinished upload of this mode, total and file name, if there is one, and the
/// correlation key a new one would register.
pub(crate) async fn find_open_upload<O: Objects>(
    objects: &O,
    token: &TokenId,
    mode: UploadMode,
    total: Option<u64>,
    file_name: &str,
) -> Result<(Option<VideoRecord>, Option<OpenUpload>), ApiError> {
    let mut candidates = vec![OpenUpload::new(token, mode, total, file_name)];
    if mode == UploadMode::Part && total.is_some() {
        // A progressive upload's last part names the total its earlier parts did not.
        candidates.push(OpenUpload::new(token, mode, None, file_name));
    }
    for open in &candidates {
        let key = ObjectKey::Open(open.clone()).to_string();
        let id = objects
            .get_text(&key)
            .await
            .map_err(internal("reading upload state"))?;
        if let Some(id) = id.as_deref().map(str::trim).and_then(VideoId::parse) {
            if let Some(v) = load_record(objects, &id).await? {
                return Ok((Some(v), Some(open.clone())));
            }
        }
    }
    Ok((None, candidates.into_iter().next()))
}

/// Writes a new video's bookkeeping: the pending marker first (so the cleanup can find whatever
/// follows), then the record, then the correlation key, created only if absent. Of two first
/// chunks of the same upload sent at once, one creates the key; the other finds it taken,
/// removes its own marker and record, and answers with the video that won (`Some`), which the
/// chunk then joins. A key left by an upload that is gone is taken over.
pub(crate) async fn open_video<O: Objects>(
    objects: &O,
    record: &VideoRecord,
    open: Option<&OpenUpload>,
) -> Result<Option<VideoRecord>, ApiError> {
    let video = &record.video_id;
    let open_key = open.map(|o| ObjectKey::Open(o.clone()).to_string());
    let json = serde_json::to_string(record).map_err(|e| ApiError::internal(e.to_string()))?;
    let write = internal("writing upload state");
    let pending = ObjectKey::Pending(video.clone()).to_string();
    let meta = ObjectKey::Meta(video.clone()).to_string();
    objects
        .put_text(&pending, open_key.as_deref().unwrap_or_default())
        .await
        .map_err(&write)?;
    objects.put_text(&meta, &json).await.map_err(&write)?;
    let Some(key) = &open_key else {
        return Ok(None);
    };
    if objects
        .create_text(key, video.as_str())
        .await
        .map_err(&write)?
    {
        return Ok(None);
    }
    let winner = objects
        .get_text(key)
        .await
        .map_err(internal("reading upload state"))?;
    let winner = match winner.as_deref().map(str::trim).and_then(VideoId::parse) {
        Some(id) => load_record(objects, &id).await?,
        None => None,
    };
    match winner {
        Some(winner) => {
            delete_all(objects, &[pending, meta])
                .await
                .map_err(&write)?;
            Ok(Some(winner))
        }
        None => {
            objects
                .put_text(key, video.as_str())
                .await
                .map_err(&write)?;
            Ok(None)
        }
    }
}

/// Removes an upload's chunks and bookkeeping once its source is assembled.
pub(crate) async fn remove_upload_state<O: Objects>(
    objects: &O,
    video: &VideoId,
    chunks: &[StoredChunk],
    open_key: Option<&str>,
) -> Result<(), ApiError> {
    let mut keys: Vec<String> = chunks
        .iter()
        .map(|c| ObjectKey::Chunk(video.clone(), c.start).to_string())
        .collect();
    keys.push(ObjectKey::Pending(video.clone()).to_string());
    keys.extend(open_key.map(str::to_owned));
    delete_all(objects, &keys)
        .await
        .map_err(internal("removing upload state"))
}

/// Assembles a complete upload and removes its chunks; the source keeps the digest of its last
/// chunk, if that chunk has one. Two requests may find the same upload
/// complete at once: both assemble the same bytes, and one that loses its chunks to the other's
/// clean-up midway is fine as long as the other's source is there.
pub(crate) async fn finish_upload<O: Objects>(
    objects: &O,
    record: &VideoRecord,
    order: &[StoredChunk],
) -> Result<(), ApiError> {
    let video = &record.video_id;
    let total: u64 = order.iter().map(|c| c.size).sum();
    let count = order.len().to_string();
    let sources: Vec<String> = order
        .iter()
        .map(|c| ObjectKey::Chunk(video.clone(), c.start).to_string())
        .collect();
    let last = order.last().and_then(|c| c.digest).map(|d| d.to_string());
    let mut custom = vec![(SOURCE_CHUNKS, count.as_str())];
    custom.extend(last.as_deref().map(|d| (SOURCE_LAST_SHA256, d)));
    let meta = ObjectMeta {
        content_type: Some(&record.content_type),
        custom: &custom,
    };
    let source = ObjectKey::Source(video.clone()).to_string();
    let job = Concat {
        sources: &sources,
        total,
        dest: &source,
        meta,
    };
    if let Err(e) = objects.concat(job).await {
        let assembled = objects
            .head(&source)
            .await
            .map_err(internal("reading a video source"))?;
        if assembled.is_none() {
            return Err(internal("assembling a video")(e));
        }
    }
    let open = open_key_of(objects, video).await?;
    remove_upload_state(objects, video, order, open.as_deref()).await
}

/// Whether `token` opened an upload that is not finished yet.
pub(crate) async fn has_open_upload<O: Objects>(
    objects: &O,
    token: &TokenId,
) -> Result<bool, ApiError> {
    let open = objects
        .list(&ObjectKey::open_uploads_of(token), None, 1)
        .await
        .map_err(internal("listing open uploads"))?;
    Ok(!open.objects.is_empty())
}

/// The correlation key an unfinished upload registered, kept in its pending marker.
pub(crate) async fn open_key_of<O: Objects>(
    objects: &O,
    video: &VideoId,
) -> Result<Option<String>, ApiError> {
    let text = objects
        .get_text(&ObjectKey::Pending(video.clone()).to_string())
        .await
        .map_err(internal("reading upload state"))?;
    Ok(text.filter(|t| !t.is_empty()))
}
