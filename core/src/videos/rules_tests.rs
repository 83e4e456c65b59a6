//! Host tests of the rules a chunk must follow to join an upload, and of video records.
use super::range_tests::slug;
use super::record::*;
use super::rules::*;
use crate::ids::{TokenId, VideoId};
use crate::project::ProjectId;

const MIB: u64 = 1024 * 1024;

fn part(start: u64, size: u64, total: Option<u64>) -> StoredChunk {
    StoredChunk {
        start,
        size,
        total,
        digest: None,
    }
}

/// Plans `range` against stored `chunks`; `assembled` as [`plan_chunk`] takes it.
fn plan(
    mode: UploadMode,
    chunks: &[StoredChunk],
    assembled: Option<(u64, u64)>,
    range: &str,
    size: u64,
) -> Result<ChunkPlan, String> {
    let r = ContentRange::parse(Some(range)).unwrap();
    plan_chunk(Some((mode, chunks)), assembled, &r, size).map_err(|e| slug(&e).to_owned())
}

#[test]
fn a_new_upload_stores_its_first_chunk_whatever_its_number() {
    let r = ContentRange::parse(Some("part 2/3")).unwrap();
    assert_eq!(
        plan_chunk(None, None, &r, 5 * MIB),
        Ok(ChunkPlan::Store {
            start: 2,
            total: Some(3)
        })
    );
    assert_eq!(
        plan_chunk(None, None, &ContentRange::Whole, 10),
        Ok(ChunkPlan::Store {
            start: 0,
            total: Some(10)
        })
    );
}

#[test]
fn modes_cannot_be_mixed() {
    let parts = [part(1, 5 * MIB, Some(3))];
    let ranges = [part(0, 5 * MIB, Some(20 * MIB))];
    assert_eq!(
        plan(UploadMode::Part, &parts, None, "bytes 0-9/10", 10),
        Err("video-content-range-started-with-part".into())
    );
    assert_eq!(
        plan(UploadMode::Bytes, &ranges, None, "part 1/2", 5 * MIB),
        Err("video-content-range-started-with-bytes".into())
    );
    let whole = plan_chunk(
        Some((UploadMode::Part, &parts)),
        None,
        &ContentRange::Whole,
        10,
    );
    assert_eq!(
        slug(&whole.unwrap_err()),
        "video-content-range-already-initiated"
    );
    let again = plan_chunk(
        Some((UploadMode::Whole, &[part(0, 10, Some(10))])),
        Some((10, 1)),
        &ContentRange::Whole,
        10,
    );
    assert_eq!(slug(&again.unwrap_err()), "video-source-already-uploaded");
    assert_eq!(
        plan(
            UploadMode::Whole,
            &[part(0, 10, Some(10))],
            Some((10, 1)),
            "part 1/1",
            10
        ),
        Err("video-source-already-uploaded".into())
    );
}

#[test]
fn a_resent_part_is_accepted_once_and_a_different_one_refused() {
    let parts = [part(1, 5 * MIB, Some(3)), part(2, 5 * MIB, Some(3))];
    assert_eq!(
        plan(UploadMode::Part, &parts, None, "part 2/3", 5 * MIB),
        Ok(ChunkPlan::AlreadyStored)
    );
    assert_eq!(
        plan(UploadMode::Part, &parts, None, "part 2/3", 6 * MIB),
        Err("video-content-range-by-part-part-already-sent".into())
    );
    // A lost answer to the last part, retried after the video was assembled (its chunks are
    // gone then; the assembled file knows their count).
    let done = Some((5 * MIB + 7, 2));
    assert_eq!(
        plan(UploadMode::Part, &[], done, "part 2/2", 7),
        Ok(ChunkPlan::AlreadyStored)
    );
    assert_eq!(
        plan(UploadMode::Part, &[], done, "part 2/*", 5 * MIB),
        Ok(ChunkPlan::AlreadyStored)
    );
    assert_eq!(
        plan(UploadMode::Part, &[], done, "part 3/3", 7),
        Err("video-source-already-uploaded".into())
    );
    assert_eq!(
        plan(UploadMode::Part, &[], done, "part 1/3", 5 * MIB),
        Err("video-source-already-uploaded".into())
    );
    let bytes_done = Some((11 * MIB, 3));
    assert_eq!(
        plan(
            UploadMode::Bytes,
            &[],
            bytes_done,
            &format!("bytes {}-{}/{}", 10 * MIB, 11 * MIB - 1, 11 * MIB),
            MIB
        ),
        Ok(ChunkPlan::AlreadyStored)
    );
    assert_eq!(
        plan(
            UploadMode::Bytes,
            &[],
            bytes_done,
            &format!("bytes 0-{}/{}", 5 * MIB - 1, 12 * MIB),
            5 * MIB
        ),
        Err("video-source-already-uploaded".into())
    );
}

#[test]
fn totals_must_agree() {
    let parts = [part(1, 5 * MIB, Some(3))];
    assert_eq!(
        plan(UploadMode::Part, &parts, None, "part 2/4", 5 * MIB),
        Err("video-content-range-by-part-different-total-parts".into())
    );
    assert_eq!(
        plan(UploadMode::Part, &parts, None, "part 4/*", 5 * MIB),
        Err("video-content-range-by-part-part-too-high-total".into())
    );
    // Progressive parts may arrive out of order: 1, 2 and 4 are in, 3 says it is the last.
    let progressive = [
        part(1, 5 * MIB, None),
        part(2, 5 * MIB, None),
        part(4, 5 * MIB, None),
    ];
    assert_eq!(
        plan(UploadMode::Part, &progressive, None, "part 3/3", 1),
        Err("video-content-range-by-part-total-parts-too-low".into())
    );
    assert_eq!(
        plan(UploadMode::Part, &progressive, None, "part 5/5", 1),
        Ok(ChunkPlan::Store {
            start: 5,
            total: Some(5)
        })
    );
}

#[test]
fn byte_ranges_may_not_overlap_or_change_total() {
    let total = 12 * MIB;
    let ranges = [part(0, 5 * MIB, Some(total))];
    let r = |a: u64, b: u64, t: u64| format!("bytes {a}-{b}/{t}");
    assert_eq!(
        plan(
            UploadMode::Bytes,
            &ranges,
            None,
            &r(0, 5 * MIB - 1, total),
            5 * MIB
        ),
        Ok(ChunkPlan::AlreadyStored)
    );
    assert_eq!(
        plan(
            UploadMode::Bytes,
            &ranges,
            None,
            &r(MIB, 6 * MIB - 1, total),
            5 * MIB
        ),
        Err("video-content-range-by-bytes-range-overlap".into())
    );
    assert_eq!(
        plan(
            UploadMode::Bytes,
            &ranges,
            None,
            &r(5 * MIB, 10 * MIB - 1, total + 1),
            5 * MIB
        ),
        Err("video-content-range-by-bytes-different-total-bytes".into())
    );
    assert_eq!(
        plan(
            UploadMode::Bytes,
            &ranges,
            None,
            &r(5 * MIB, 10 * MIB - 1, total),
            5 * MIB
        ),
        Ok(ChunkPlan::Store {
            start: 5 * MIB,
            total: Some(total)
        })
    );
}

#[test]
fn completion_needs_every_part_and_a_known_total() {
    let mut parts = vec![part(2, 5 * MIB, Some(3)), part(1, 5 * MIB, Some(3))];
    assert_eq!(completion(UploadMode::Part, &parts), None);
    parts.push(part(3, 1, Some(3)));
    let order: Vec<u64> = completion(UploadMode::Part, &parts)
        .unwrap()
        .iter()
        .map(|c| c.start)
        .collect();
    assert_eq!(order, [1, 2, 3]);
    // Progressive: the total is only known from the last part.
    let mut prog = vec![part(1, 6 * MIB, None), part(2, 7 * MIB, None)];
    assert_eq!(completion(UploadMode::Part, &prog), None);
    prog.push(part(3, MIB, Some(3)));
    assert!(completion(UploadMode::Part, &prog).is_some());
    // A gap keeps it open.
    let gap = [part(1, 6 * MIB, None), part(3, MIB, Some(3))];
    assert_eq!(completion(UploadMode::Part, &gap), None);
}

#[test]
fn byte_ranges_complete_when_they_cover_the_total() {
    let t = 11 * MIB;
    let a = part(0, 5 * MIB, Some(t));
    let b = part(5 * MIB, 5 * MIB, Some(t));
    let c = part(10 * MIB, MIB, Some(t));
    assert_eq!(completion(UploadMode::Bytes, &[a, c]), None);
    let order: Vec<u64> = completion(UploadMode::Bytes, &[c, a, b])
        .unwrap()
        .iter()
        .map(|c| c.start)
        .collect();
    assert_eq!(order, [0, 5 * MIB, 10 * MIB]);
}

#[test]
fn only_the_opening_token_may_finish_after_expiring_and_never_after_deletion() {
    let vid = VideoId::parse("vi0000000000000000000001").unwrap();
    let project = ProjectId::parse("p").unwrap();
    let tok = TokenId::parse("to0000000000000000000001").unwrap();
    let other = TokenId::parse("to0000000000000000000002").unwrap();
    let expiring = VideoRecord::new(
        &vid,
        &project,
        &tok,
        Some(100),
        "a.mp4",
        UploadMode::Part,
        50,
    );
    assert!(expiring.accepts_vanished_token(&tok, 100));
    assert!(
        !expiring.accepts_vanished_token(&tok, 99),
        "gone before expiry: it was deleted"
    );
    assert!(!expiring.accepts_vanished_token(&other, 100));
    let forever = VideoRecord::new(&vid, &project, &tok, None, "a.mp4", UploadMode::Part, 50);
    assert!(!forever.accepts_vanished_token(&tok, 1_000_000));
}

/// A video of project `p` opened at `created_at` by a token that never expires, with a first
/// chunk named `name`.
fn record(name: &str, created_at: i64) -> VideoRecord {
    VideoRecord::new(
        &VideoId::parse("vi0000000000000000000001").unwrap(),
        &ProjectId::parse("p").unwrap(),
        &TokenId::parse("to0000000000000000000001").unwrap(),
        None,
        name,
        UploadMode::Part,
        created_at,
    )
}

#[test]
fn the_video_object_has_no_nulls_and_names_its_source() {
    let rec = record("10m.mp4.part.a", 1_606_903_999);
    let json = serde_json::to_value(rec.view(1_606_904_000, None)).unwrap();
    assert_eq!(json["videoId"], "vi0000000000000000000001");
    assert_eq!(json["title"], "10m.mp4.part.a");
    assert_eq!(
        json["source"]["uri"],
        "/videos/vi0000000000000000000001/source"
    );
    assert_eq!(json["updatedAt"], "2020-12-02T10:13:20+00:00");
    assert!(json.as_object().unwrap().values().all(|v| !v.is_null()));
    assert!(json.get("ingest").is_none());
    let ingest = Ingest::uploading(
        UploadMode::Part,
        &[part(3, 5, Some(3)), part(1, 5 * MIB, Some(3))],
    );
    let json = serde_json::to_value(rec.view(1_606_904_000, Some(ingest))).unwrap();
    assert_eq!(json["ingest"]["status"], "uploading");
    assert_eq!(
        json["ingest"]["receivedParts"]["parts"],
        serde_json::json!([1, 3])
    );
    assert_eq!(json["ingest"]["receivedParts"]["total"], 3);
    assert_eq!(json["ingest"]["receivedBytesTotal"], 5 * MIB + 5);
    assert!(json["ingest"].get("filesize").is_none());
    let open = Ingest::uploading(UploadMode::Part, &[part(1, 5 * MIB, None)]);
    let json = serde_json::to_value(open).unwrap();
    assert!(
        json["receivedParts"].get("total").is_none(),
        "no null: left out until known"
    );
    let json = serde_json::to_value(Ingest::uploaded(UploadMode::Part, 5 * MIB + 5, 3)).unwrap();
    assert_eq!(json["status"], "uploaded");
    assert_eq!(json["receivedParts"]["parts"], serde_json::json!([1, 2, 3]));
    assert_eq!(json["filesize"], 5 * MIB + 5);
    let json = serde_json::to_value(Ingest::uploaded(UploadMode::Bytes, 10, 2)).unwrap();
    assert_eq!(
        json["receivedBytes"],
        serde_json::json!([{"from": 0, "to": 9, "total": 10}])
    );
}

#[test]
fn content_type_comes_from_the_client_or_the_file_name() {
    let mk = |name: &str, declared: &str| record(name, 0).with_content_type(declared).content_type;
    assert_eq!(mk("a.mp4", "application/octet-stream"), "video/mp4");
    assert_eq!(mk("a.MOV", ""), "video/quicktime");
    assert_eq!(mk("a.mp4", "video/webm"), "video/webm");
    assert_eq!(mk("a.mp4", "text/html"), "video/mp4");
    assert_eq!(mk("page.html", "text/html"), "application/octet-stream");
    assert_eq!(mk("a.bin", "video/<script>"), "application/octet-stream");
    assert_eq!(mk("blob", ""), "application/octet-stream");
}

#[test]
fn the_token_limits_are_fields_of_the_record_left_out_when_unset() {
    let plain = serde_json::to_value(record("a.mp4", 1_000)).unwrap();
    for key in ["metadata", "maxSize", "allowedOrigins", "limits"] {
        assert!(plain.get(key).is_none(), "{key} in {plain}");
    }
    let mut limited = record("a.mp4", 1_000);
    limited.limits = ChunkLimits {
        max_size: Some(10),
        allowed_origins: vec!["https://app.example".to_owned()],
    };
    let json = serde_json::to_value(&limited).unwrap();
    assert_eq!(json["maxSize"], 10);
    assert_eq!(json["allowedOrigins"][0], "https://app.example");
    assert!(json.get("limits").is_none());
    let back: VideoRecord = serde_json::from_value(json).unwrap();
    assert_eq!(back, limited);
    // A record of an earlier version, without them, reads as unlimited.
    let back: VideoRecord = serde_json::from_value(plain).unwrap();
    assert_eq!(back.limits, ChunkLimits::default());
}

#[test]
fn file_names_lose_the_multipart_escapes() {
    assert_eq!(
        decode_file_name("clip %22final%22.mp4"),
        "clip \"final\".mp4"
    );
    assert_eq!(decode_file_name("a%0D%0Ab.mp4"), "a\r\nb.mp4");
    assert_eq!(decode_file_name("vidéo; 1,2.mp4"), "vidéo; 1,2.mp4");
}
