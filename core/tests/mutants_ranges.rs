//! Fixed answers for `Content-Range` at the edges of its numbers (digits only, at most 19 of
//! them, the 5 GiB − 5 MiB total, the 200 MiB range, a range far into the file), and for the
//! size check made once a chunk is stored (a chunk that takes its video over the token's
//! `maxFileSize` is removed again).

use serde_json::json;
use upload_tokens_core::http::problem::ApiError;
use upload_tokens_core::ids::{TokenId, VideoId};
use upload_tokens_core::project::ProjectId;
use upload_tokens_core::testing::{block_on, MemoryObjects};
use upload_tokens_core::tokens::policy::Policy;
use upload_tokens_core::videos::keys::ObjectKey;
use upload_tokens_core::videos::policy::undo_if_over;
use upload_tokens_core::videos::range::ContentRange;
use upload_tokens_core::videos::record::VideoRecord;
use upload_tokens_core::videos::rules::{
    ChunkPlan, StoredChunk, UploadMode, MAX_CHUNK, MAX_TOTAL_BYTES,
};

/// The last segment of a refusal's type.
fn slug(e: ApiError) -> String {
    let t = &e.problem.type_uri;
    t[t.rfind('/').unwrap() + 1..].to_owned()
}

/// The parsed range, or the refusal's slug.
fn parsed(header: &str) -> Result<ContentRange, String> {
    ContentRange::parse(Some(header)).map_err(slug)
}

/// Part 1 of a part upload, 5 MiB, stored with the total it declared.
fn first_part(total: Option<u64>) -> [StoredChunk; 1] {
    [StoredChunk {
        start: 1,
        size: 5 * 1024 * 1024,
        total,
        digest: None,
    }]
}

const MALFORMED: &str = "video-content-range-malformed";

#[test]
fn numbers_are_digits_only_and_at_most_nineteen_of_them() {
    let nineteen = "1000000000000000000";
    let twenty_in_u64 = "18446744073709551615";
    let cases: [(String, Result<ContentRange, &str>); 6] = [
        (
            "part 1/2".into(),
            Ok(ContentRange::Part {
                part: 1,
                total: Some(2),
            }),
        ),
        ("part +1/2".into(), Err(MALFORMED)),
        ("part 1/+2".into(), Err(MALFORMED)),
        (
            format!("bytes 0-0/{nineteen}"),
            Err("video-content-range-by-bytes-total-bytes-too-high"),
        ),
        (format!("bytes 0-0/{twenty_in_u64}"), Err(MALFORMED)),
        (
            "bytes 0-9/10".into(),
            Ok(ContentRange::Bytes {
                from: 0,
                to: 9,
                total: 10,
            }),
        ),
    ];
    for (header, want) in cases {
        assert_eq!(parsed(&header), want.map_err(str::to_owned), "{header}");
    }
}

#[test]
fn a_byte_range_may_reach_the_largest_total_and_the_largest_range_far_into_a_file() {
    let max = MAX_TOTAL_BYTES;
    assert_eq!(
        parsed(&format!("bytes 0-0/{max}")),
        Ok(ContentRange::Bytes {
            from: 0,
            to: 0,
            total: max
        })
    );
    assert_eq!(
        parsed(&format!("bytes 0-0/{}", max + 1)),
        Err("video-content-range-by-bytes-total-bytes-too-high".to_owned())
    );
    // Exactly 200 MiB, starting 3 GiB in; one byte more is refused.
    let from = 3 * 1024 * 1024 * 1024;
    let to = from + MAX_CHUNK - 1;
    assert_eq!(
        parsed(&format!("bytes {from}-{to}/{max}")),
        Ok(ContentRange::Bytes {
            from,
            to,
            total: max
        })
    );
    assert_eq!(
        parsed(&format!("bytes {from}-{}/{max}", to + 1)),
        Err("video-content-range-by-bytes-range-too-large".to_owned())
    );
    // A small range far into the file.
    assert_eq!(
        parsed(&format!("bytes {from}-{}/{max}", from + 99)),
        Ok(ContentRange::Bytes {
            from,
            to: from + 99,
            total: max
        })
    );
}

#[test]
fn a_chunk_that_takes_its_video_over_max_file_size_is_removed_once_stored() {
    let objects = MemoryObjects::new(1_800_000_000);
    let video = VideoId::parse("vi00000000000000000000v1").unwrap();
    let record = VideoRecord::new(
        &video,
        &ProjectId::parse("alpha").unwrap(),
        &TokenId::parse("to1tcmSFHeYY5KzyhOqVKMKb").unwrap(),
        None,
        "a.mp4",
        UploadMode::Part,
        1_800_000_000,
    );
    let policy = Policy::from_body(json!({ "maxFileSize": 100 }).as_object().unwrap()).unwrap();
    let chunk = |start: u64, size: u64| StoredChunk {
        start,
        size,
        total: Some(3),
        digest: None,
    };
    let second = ObjectKey::Chunk(video.clone(), 2).to_string();
    objects.insert_raw(&ObjectKey::Chunk(video.clone(), 1).to_string(), &[1; 60]);
    objects.insert_raw(&second, &[2; 40]);
    let plan = ChunkPlan::Store {
        start: 2,
        total: Some(3),
    };
    // 60 + 40 = 100: within the limit, kept.
    let within = [chunk(1, 60), chunk(2, 40)];
    assert!(block_on(undo_if_over(
        &objects,
        Some(&policy),
        &record,
        plan,
        &within
    ))
    .is_ok());
    assert_eq!(objects.keys().len(), 2);
    // 60 + 41: over it; this chunk is removed and refused.
    let over = [chunk(1, 60), chunk(2, 41)];
    let e = block_on(undo_if_over(&objects, Some(&policy), &record, plan, &over)).unwrap_err();
    assert_eq!(e.status(), 413);
    assert!(!objects.keys().contains(&second));
    assert_eq!(objects.keys().len(), 1);
}

#[test]
fn a_whole_file_or_a_part_may_hold_exactly_200_mib_and_not_a_byte_more() {
    for range in [
        ContentRange::Whole,
        ContentRange::Part {
            part: 2,
            total: Some(2),
        },
    ] {
        assert_eq!(range.check_size(MAX_CHUNK), Ok(()), "{range:?}");
        let e = range.check_size(MAX_CHUNK + 1).unwrap_err();
        assert_eq!(
            e.problem.type_uri,
            "https://docs.api.video/reference/uploaded-file-too-large"
        );
    }
}

fn planned(
    existing: Option<(UploadMode, &[StoredChunk])>,
    assembled: Option<(u64, u64)>,
    range: ContentRange,
    size: u64,
) -> Result<ChunkPlan, String> {
    upload_tokens_core::videos::rules::plan_chunk(existing, assembled, &range, size).map_err(slug)
}

#[test]
fn a_file_without_content_range_for_a_chunked_video_is_refused_by_what_became_of_it() {
    let mib = 1024 * 1024;
    let stored = first_part(Some(2));
    let open = Some((UploadMode::Part, &stored[..]));
    assert_eq!(
        planned(open, None, ContentRange::Whole, 10),
        Err("video-content-range-already-initiated".to_owned())
    );
    assert_eq!(
        planned(open, Some((5 * mib + 10, 2)), ContentRange::Whole, 10),
        Err("video-source-already-uploaded".to_owned())
    );
}

#[test]
fn a_part_sent_again_matches_whether_or_not_either_send_named_the_total() {
    let mib = 1024 * 1024;
    let part = |total| ContentRange::Part { part: 1, total };
    // (total stored, total sent again): the same part either way.
    for (stored, sent) in [
        (None, Some(3)),
        (Some(3), None),
        (None, None),
        (Some(3), Some(3)),
    ] {
        let chunks = first_part(stored);
        assert_eq!(
            planned(
                Some((UploadMode::Part, &chunks[..])),
                None,
                part(sent),
                5 * mib
            ),
            Ok(ChunkPlan::AlreadyStored),
            "stored {stored:?}, sent {sent:?}"
        );
    }
    // Another total is another upload's part: refused.
    let chunks = first_part(Some(3));
    assert_eq!(
        planned(
            Some((UploadMode::Part, &chunks[..])),
            None,
            part(Some(4)),
            5 * mib
        ),
        Err("video-content-range-by-part-part-already-sent".to_owned())
    );
}

#[test]
fn a_part_without_a_total_fits_the_total_declared_before() {
    let mib = 1024 * 1024;
    let chunks = first_part(Some(3));
    let existing = Some((UploadMode::Part, &chunks[..]));
    let part = |part| ContentRange::Part { part, total: None };
    assert_eq!(
        planned(existing, None, part(3), 5 * mib),
        Ok(ChunkPlan::Store {
            start: 3,
            total: None
        })
    );
    assert_eq!(
        planned(existing, None, part(4), 5 * mib),
        Err("video-content-range-by-part-part-too-high-total".to_owned())
    );
}
