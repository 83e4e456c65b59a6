//! The periodic cleanup (a cron trigger): removes unfinished uploads that received nothing for
//! the stale time (their chunks, record and bookkeeping) and staged files of requests that
//! died. Each run walks the listings page by page with their cursors, so an old upload is
//! reached however many newer ones sort before it; a run stops after [`MAX_REMOVED_PER_RUN`]
//! removals or [`MAX_PAGES_PER_RUN`] pages of each listing, to stay within the runtime's limits,
//! and the next run carries on.

use super::keys::{ObjectKey, PENDING_PREFIX, STAGING_PREFIX};
use super::state::{internal, open_key_of};
use crate::http::problem::ApiError;
use crate::storage::objects::{delete_all, list_all, ObjectInfo, Objects, PAGE_LIMIT};
use crate::time::UnixSeconds;

/// Most uploads and staged files one run removes.
pub const MAX_REMOVED_PER_RUN: usize = 100;
/// Most pages of 1,000 keys one run reads of each listing.
pub const MAX_PAGES_PER_RUN: usize = 10;

/// Removes what is stale at `now`; returns how many uploads and staged files it removed.
pub async fn remove_stale_uploads<O: Objects>(
    objects: &O,
    now: UnixSeconds,
    stale_after: u32,
) -> Result<usize, ApiError> {
    let stale = |uploaded: UnixSeconds| now - uploaded >= UnixSeconds::from(stale_after);
    let mut removed = 0;
    // Staged files a request did not live to delete.
    let mut cursor = None;
    for _ in 0..MAX_PAGES_PER_RUN {
        let page = objects
            .list(STAGING_PREFIX, cursor.as_deref(), PAGE_LIMIT)
            .await
            .map_err(internal("listing staged files"))?;
        let leftovers: Vec<String> = page
            .objects
            .iter()
            .filter(|o| stale(o.uploaded))
            .take(MAX_REMOVED_PER_RUN - removed)
            .map(|o| o.key.clone())
            .collect();
        delete_all(objects, &leftovers)
            .await
            .map_err(internal("removing a staged file"))?;
        removed += leftovers.len();
        cursor = page.cursor;
        if cursor.is_none() || removed == MAX_REMOVED_PER_RUN {
            break;
        }
    }
    let mut cursor = None;
    for _ in 0..MAX_PAGES_PER_RUN {
        if removed == MAX_REMOVED_PER_RUN {
            break;
        }
        let page = objects
            .list(PENDING_PREFIX, cursor.as_deref(), PAGE_LIMIT)
            .await
            .map_err(internal("listing unfinished uploads"))?;
        for marker in &page.objects {
            if removed == MAX_REMOVED_PER_RUN {
                break;
            }
            if remove_if_stale(objects, marker, &stale).await? {
                removed += 1;
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(removed)
}

/// Removes the unfinished upload of `marker` if nothing of it was written for the stale time.
async fn remove_if_stale<O: Objects>(
    objects: &O,
    marker: &ObjectInfo,
    stale: &impl Fn(UnixSeconds) -> bool,
) -> Result<bool, ApiError> {
    let Some(ObjectKey::Pending(video)) = ObjectKey::parse(&marker.key) else {
        return Ok(false);
    };
    if !stale(marker.uploaded) {
        return Ok(false);
    }
    let chunks = list_all(objects, &ObjectKey::chunks_of(&video))
        .await
        .map_err(internal("listing chunks"))?;
    if !chunks.iter().all(|c| stale(c.uploaded)) {
        return Ok(false);
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
    Ok(true)
}
