//! Upload rules at their exact limits, with the answers written down from README: an assembled
//! video holds at most 5 GiB less 5 MiB in every mode, and an upload is complete only when
//! every part or byte is in.

use upload_tokens_core::http::problem::ApiError;
use upload_tokens_core::videos::rules::{
    completion, plan_chunk, ChunkPlan, ContentRange, StoredChunk, UploadMode, MAX_CHUNK,
    MAX_TOTAL_BYTES, MIN_CHUNK,
};

const MIB: u64 = 1024 * 1024;

fn slug(e: &ApiError) -> &str {
    e.problem.type_uri.rsplit('/').next().unwrap()
}

fn plan(
    mode: UploadMode,
    chunks: &[StoredChunk],
    range: &str,
    size: u64,
) -> Result<ChunkPlan, String> {
    let r = ContentRange::parse(Some(range)).map_err(|e| slug(&e).to_owned())?;
    plan_chunk(Some((mode, chunks)), None, &r, size).map_err(|e| slug(&e).to_owned())
}

/// Parts 1..=n of `size` bytes each, declaring `total`.
fn parts(n: u64, size: u64, total: Option<u64>) -> Vec<StoredChunk> {
    (1..=n)
        .map(|start| StoredChunk {
            start,
            size,
            total,
            digest: None,
        })
        .collect()
}

#[test]
fn the_limits_are_the_documented_figures() {
    assert_eq!(MAX_TOTAL_BYTES, 5_363_466_240, "5 GiB less 5 MiB");
    assert_eq!(MAX_CHUNK, 209_715_200, "200 MiB");
    assert_eq!(MIN_CHUNK, 5_242_880, "5 MiB");
}

#[test]
fn parts_may_add_up_to_the_cap_and_not_a_byte_more() {
    // 25 parts of 200 MiB: 5,000 MiB; 115 MiB more is 5 GiB less 5 MiB exactly.
    for total in [Some(26), Some(30), None] {
        let stored = parts(25, 200 * MIB, total);
        let header = match total {
            Some(t) => format!("part 26/{t}"),
            None => "part 26/*".to_owned(),
        };
        assert_eq!(
            plan(UploadMode::Part, &stored, &header, 115 * MIB),
            Ok(ChunkPlan::Store { start: 26, total }),
            "{header}: up to the cap"
        );
        assert_eq!(
            plan(UploadMode::Part, &stored, &header, 115 * MIB + 1),
            Err("uploaded-file-too-large".to_owned()),
            "{header}: one byte over"
        );
    }
    // Already at the cap: even a one-byte last part is refused.
    let mut full = parts(25, 200 * MIB, Some(27));
    full.push(StoredChunk {
        start: 26,
        size: 115 * MIB,
        total: Some(27),
        digest: None,
    });
    assert_eq!(
        plan(UploadMode::Part, &full, "part 27/27", 1),
        Err("uploaded-file-too-large".to_owned())
    );
    // The refusal names the file, as api.video's does.
    let r = ContentRange::parse(Some("part 27/27")).unwrap();
    let e = plan_chunk(Some((UploadMode::Part, &full)), None, &r, 1).unwrap_err();
    assert_eq!(e.status(), 400);
    assert_eq!(e.problem.name, Some("file"));
}

#[test]
fn a_part_upload_counts_the_sizes_of_all_its_parts() {
    // The parts stored need not be numbered from 1 for the sum to count.
    let stored = [
        StoredChunk {
            start: 3,
            size: MAX_TOTAL_BYTES - 10,
            total: None,
            digest: None,
        },
        StoredChunk {
            start: 1,
            size: 5,
            total: None,
            digest: None,
        },
    ];
    assert_eq!(
        plan(UploadMode::Part, &stored, "part 2/*", MIN_CHUNK),
        Err("uploaded-file-too-large".to_owned())
    );
    assert_eq!(
        plan(UploadMode::Part, &stored, "part 4/4", 5),
        Ok(ChunkPlan::Store {
            start: 4,
            total: Some(4)
        })
    );
    assert_eq!(
        plan(UploadMode::Part, &stored, "part 4/4", 6),
        Err("uploaded-file-too-large".to_owned())
    );
}

#[test]
fn byte_ranges_may_declare_the_cap_and_not_a_byte_more() {
    let at_cap = format!("bytes 0-{}/{}", MIN_CHUNK - 1, MAX_TOTAL_BYTES);
    assert_eq!(
        ContentRange::parse(Some(&at_cap)),
        Ok(ContentRange::Bytes {
            from: 0,
            to: MIN_CHUNK - 1,
            total: MAX_TOTAL_BYTES
        })
    );
    let over = format!("bytes 0-{}/{}", MIN_CHUNK - 1, MAX_TOTAL_BYTES + 1);
    assert_eq!(
        ContentRange::parse(Some(&over)).map_err(|e| slug(&e).to_owned()),
        Err("video-content-range-by-bytes-total-bytes-too-high".to_owned())
    );
}

fn bytes(start: u64, size: u64, total: u64) -> StoredChunk {
    StoredChunk {
        start,
        size,
        total: Some(total),
        digest: None,
    }
}

#[test]
fn a_byte_range_upload_is_complete_only_when_its_last_byte_is_in() {
    let total = 10 * MIB + 100;
    let head = bytes(0, 5 * MIB, total);
    let middle = bytes(5 * MIB, 5 * MIB, total);
    let tail = bytes(10 * MIB, 100, total);
    let cases: [(&[StoredChunk], bool); 7] = [
        (&[], false),
        (&[head], false),
        (&[head, middle], false),
        (&[head, tail], false),
        (&[middle, tail], false),
        (&[head, middle, tail], true),
        (&[tail, head, middle], true),
    ];
    for (chunks, complete) in cases {
        let got = completion(UploadMode::Bytes, chunks);
        assert_eq!(got.is_some(), complete, "{chunks:?}");
        if complete {
            assert_eq!(got.unwrap(), vec![head, middle, tail], "in byte order");
        }
    }
    // The tail missing its very last byte is not complete either.
    let short_tail = bytes(10 * MIB, 99, total);
    assert_eq!(
        completion(UploadMode::Bytes, &[head, middle, short_tail]),
        None
    );
}

#[test]
fn a_part_upload_is_complete_only_with_every_part_and_a_known_total() {
    let p = |start, total| StoredChunk {
        start,
        size: MIN_CHUNK,
        total,
        digest: None,
    };
    let cases: [(&[StoredChunk], Option<Vec<u64>>); 7] = [
        (&[], None),
        (&[p(1, None), p(2, None)], None),
        (&[p(1, Some(3)), p(2, Some(3))], None),
        (&[p(1, Some(3)), p(3, Some(3))], None),
        (
            &[p(2, Some(3)), p(3, Some(3)), p(1, Some(3))],
            Some(vec![1, 2, 3]),
        ),
        // A progressive upload: only its last part names the total.
        (
            &[p(2, None), p(3, Some(3)), p(1, None)],
            Some(vec![1, 2, 3]),
        ),
        (&[p(1, Some(1))], Some(vec![1])),
    ];
    for (chunks, want) in cases {
        let got = completion(UploadMode::Part, chunks).map(|c| c.iter().map(|c| c.start).collect());
        assert_eq!(got, want, "{chunks:?}");
    }
}

#[test]
fn a_whole_file_is_complete_once_it_is_there() {
    assert_eq!(completion(UploadMode::Whole, &[]), None);
    let file = bytes(0, 10, 10);
    assert_eq!(completion(UploadMode::Whole, &[file]), Some(vec![file]));
}
