//! The periodic cleanup (a cron trigger): removes unfinished uploads that received nothing for
//! the stale time (their chunks, record and bookkeeping) and staged files of requests that
//! died. Bounded per run so one invocation stays within the runtime's limits; the next run
//! carries on.

use super::keys::{ObjectKey, PENDING_PREFIX, STAGING_PREFIX};
use super::state::{internal, open_key_of};
use crate::http::problem::ApiError;
use crate::storage::objects::{delete_all, list_all, Objects};
use crate::time::UnixSeconds;

/// Most unfinished uploads and staged files looked at per run.
pub const MAX_PER_RUN: usize = 100;

/// Removes what is stale at `now`; returns how many uploads and staged files it removed.
pub async fn remove_stale_uploads<O: Objects>(
    objects: &O,
    now: UnixSeconds,
    stale_after: u32,
) -> Result<usize, ApiError> {
    let stale = |uploaded: UnixSeconds| now - uploaded >= UnixSeconds::from(stale_after);
    let pending = objects
        .list(PENDING_PREFIX, None, MAX_PER_RUN)
        .await
        .map_err(internal("listing unfinished uploads"))?;
    // Staged files a request did not live to delete.
    let staged = objects
        .list(STAGING_PREFIX, None, MAX_PER_RUN)
        .await
        .map_err(internal("listing staged files"))?;
    let leftovers: Vec<String> = staged
        .objects
        .iter()
        .filter(|o| stale(o.uploaded))
        .map(|o| o.key.clone())
        .collect();
    let mut removed = leftovers.len();
    delete_all(objects, &leftovers)
        .await
        .map_err(internal("removing a staged file"))?;
    for marker in &pending.objects {
        let Some(ObjectKey::Pending(video)) = ObjectKey::parse(&marker.key) else {
            continue;
        };
        let chunks = list_all(objects, &ObjectKey::chunks_of(&video))
            .await
            .map_err(internal("listing chunks"))?;
        let last = chunks
            .iter()
            .map(|c| c.uploaded)
            .fold(marker.uploaded, i64::max);
        if !stale(last) {
            continue;
        }
        let open = open_key_of(objects, &video).await?;
        let mut keys: Vec<String> = chunks.into_iter().map(|c| c.key).collect();
        // A video whose source was assembled was answered 201: it is finished, only its
        // bookkeeping was left behind (a removal that failed); the video itself stays.
        let source = ObjectKey::Source(video.clone()).to_string();
        let finished = objects
            .head(&source)
            .await
            .map_err(internal("reading a video source"))?
            .is_some();
        if !finished {
            keys.push(ObjectKey::Meta(video.clone()).to_string());
        }
        keys.extend(open);
        // The marker last: if anything above fails, the next run tries again.
        keys.push(marker.key.clone());
        delete_all(objects, &keys)
            .await
            .map_err(internal("removing a stale upload"))?;
        removed += 1;
    }
    Ok(removed)
}
