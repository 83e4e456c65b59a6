//! Fixed answers for what a video record says of itself: the media type taken from the file
//! name when the declared one is not a video type, and the upload status of unfinished part and
//! byte-range uploads.

use serde_json::json;
use upload_tokens_core::ids::{TokenId, VideoId};
use upload_tokens_core::project::ProjectId;
use upload_tokens_core::videos::record::{Ingest, VideoRecord};
use upload_tokens_core::videos::rules::{StoredChunk, UploadMode};

fn record(title: &str) -> VideoRecord {
    let video = VideoId::parse("vi00000000000000000000v1").unwrap();
    let project = ProjectId::parse("alpha").unwrap();
    let token = TokenId::parse("to1tcmSFHeYY5KzyhOqVKMKb").unwrap();
    VideoRecord::new(&video, &project, &token, None, title, UploadMode::Whole, 0)
}

#[test]
fn the_media_type_comes_from_the_file_name_unless_a_video_type_was_declared() {
    // Declared types that are not video types: the file name decides.
    let by_name = [
        ("a.mp4", "video/mp4"),
        ("a.M4V", "video/mp4"),
        ("a.mov", "video/quicktime"),
        ("a.webm", "video/webm"),
        ("a.mkv", "video/x-matroska"),
        ("a.avi", "video/x-msvideo"),
        ("a.ts", "video/mp2t"),
        ("a.txt", "application/octet-stream"),
        ("noextension", "application/octet-stream"),
    ];
    for declared in ["application/octet-stream", "", "text/plain", "video/"] {
        for (title, want) in by_name {
            let r = record(title).with_content_type(declared);
            assert_eq!(r.content_type, want, "{title} declared {declared:?}");
        }
    }
    // A declared video type stands, in lower case.
    let declared = record("a.mp4").with_content_type(" Video/Ogg ");
    assert_eq!(declared.content_type, "video/ogg");
}

#[test]
fn an_unfinished_upload_reports_the_parts_or_the_byte_ranges_it_holds() {
    let mib = 1024 * 1024;
    let chunks = |total| {
        [
            StoredChunk {
                start: 5 * mib,
                size: 5 * mib,
                total,
                digest: None,
            },
            StoredChunk {
                start: 0,
                size: 5 * mib,
                total,
                digest: None,
            },
        ]
    };
    let bytes = Ingest::uploading(UploadMode::Bytes, &chunks(Some(12 * mib)));
    assert_eq!(
        serde_json::to_value(&bytes).unwrap(),
        json!({
            "status": "uploading",
            "mode": "bytes",
            "receivedBytesTotal": 10 * mib,
            "receivedBytes": [
                {"from": 0, "to": 5 * mib - 1, "total": 12 * mib},
                {"from": 5 * mib, "to": 10 * mib - 1, "total": 12 * mib},
            ],
        })
    );
    let parts = [
        StoredChunk {
            start: 2,
            size: 5 * mib,
            total: Some(3),
            digest: None,
        },
        StoredChunk {
            start: 1,
            size: 5 * mib,
            total: None,
            digest: None,
        },
    ];
    assert_eq!(
        serde_json::to_value(Ingest::uploading(UploadMode::Part, &parts)).unwrap(),
        json!({
            "status": "uploading",
            "mode": "part",
            "receivedBytesTotal": 10 * mib,
            "receivedParts": {"parts": [1, 2], "total": 3},
        })
    );
}
