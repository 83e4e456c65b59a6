//! `GET /videos/{videoId}` and `GET /videos/{videoId}/source`, for the video's own project.

use super::keys::ObjectKey;
use super::record::{Ingest, VideoRecord};
use super::rules::video_not_found;
use super::state::{internal, load_record, load_state};
use crate::http::problem::ApiError;
use crate::http::{Answer, Context, Response};
use crate::ids::VideoId;
use crate::project::ProjectId;
use crate::storage::objects::Objects;

/// The video `raw` of the caller's project, or a 404 (the same whether it does not exist or is
/// another project's).
async fn owned_video<O: Objects>(
    objects: &O,
    project: &ProjectId,
    raw: &str,
) -> Result<VideoRecord, ApiError> {
    let id = VideoId::parse(raw).ok_or_else(video_not_found)?;
    load_record(objects, &id)
        .await?
        .filter(|v| &v.project == project)
        .ok_or_else(video_not_found)
}

/// The Video with its upload status.
pub async fn video<K, L, I, O: Objects>(
    ctx: &Context<'_, K, L, I, O>,
    project: &ProjectId,
    raw: &str,
) -> Result<Response, ApiError> {
    let record = owned_video(ctx.objects, project, raw).await?;
    let state = load_state(ctx.objects, record).await?;
    let ingest = match state.assembled {
        Some((size, count)) => Ingest::uploaded(state.record.mode, size, count),
        None => Ingest::uploading(state.record.mode, &state.chunks),
    };
    serde_json::to_string(&state.record.view(state.updated_at, Some(ingest)))
        .map(|body| Response::json(200, body))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The assembled file, streamed from storage as a download.
pub async fn source<K, L, I, O: Objects>(
    ctx: &Context<'_, K, L, I, O>,
    project: &ProjectId,
    raw: &str,
) -> Result<Answer<O::Body>, ApiError> {
    let record = owned_video(ctx.objects, project, raw).await?;
    let key = ObjectKey::Source(record.video_id.clone()).to_string();
    let Some((info, body)) = ctx
        .objects
        .open(&key)
        .await
        .map_err(internal("reading a source"))?
    else {
        return Err(ApiError::new(
            404,
            "resource-not-found",
            "The video source has not been fully uploaded yet.",
        )
        .named("videoId"));
    };
    let headers = vec![
        ("Content-Type", record.content_type.clone()),
        // A download, never a page rendered from the API's origin.
        ("X-Content-Type-Options", "nosniff".to_owned()),
        (
            "Content-Disposition",
            format!(
                "attachment; filename=\"{}.{}\"",
                record.video_id,
                extension_of(&record.title)
            ),
        ),
        ("Content-Length", info.size.to_string()),
        ("X-RateLimit-Limit", ctx.config.api_limit.limit.to_string()),
    ];
    Ok(Answer::Stream { headers, body })
}

/// A short, safe extension for the download name: the title's, if it is plain letters and
/// digits, else `bin`.
pub fn extension_of(title: &str) -> &str {
    title
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or("bin")
}

#[cfg(test)]
mod tests {
    use super::extension_of;

    #[test]
    fn download_names_keep_only_plain_extensions() {
        for (title, ext) in [
            ("clip.mp4", "mp4"),
            ("a.b.MOV", "MOV"),
            ("noext", "bin"),
            ("trailing.", "bin"),
            ("x.html\"", "bin"),
            ("x.verylongext", "bin"),
            ("x.m p4", "bin"),
        ] {
            assert_eq!(extension_of(title), ext, "{title}");
        }
    }
}
