//! Host tests of the `Content-Range` forms and the size rules.
use super::rules::*;
use crate::http::problem::ApiError;

const MIB: u64 = 1024 * 1024;

pub(super) fn slug(e: &ApiError) -> &str {
    e.problem.type_uri.rsplit('/').next().unwrap()
}

fn parse_err(h: &str) -> String {
    slug(&ContentRange::parse(Some(h)).unwrap_err()).to_owned()
}

#[test]
fn every_header_form_the_clients_send_is_read() {
    assert_eq!(ContentRange::parse(None).unwrap(), ContentRange::Whole);
    assert_eq!(
        ContentRange::parse(Some("part 2/3")).unwrap(),
        ContentRange::Part {
            part: 2,
            total: Some(3)
        }
    );
    assert_eq!(
        ContentRange::parse(Some("part 7/*")).unwrap(),
        ContentRange::Part {
            part: 7,
            total: None
        }
    );
    assert_eq!(
        ContentRange::parse(Some("bytes 0-5242879/11534336")).unwrap(),
        ContentRange::Bytes {
            from: 0,
            to: 5_242_879,
            total: 11_534_336
        }
    );
}

#[test]
fn malformed_headers_are_refused() {
    for h in [
        "",
        "part",
        "part 1",
        "part a/2",
        "part 1/b",
        "parts 1/2",
        "part -1/2",
        "bytes 1-/3",
        "bytes 0-1",
        "bytes a-b/c",
        "part 1/2/3",
        "PART 1/2",
        "part 1.0/2",
    ] {
        assert_eq!(parse_err(h), "video-content-range-malformed", "{h:?}");
    }
}

#[test]
fn header_only_rules_have_api_video_error_types() {
    let cases = [
        ("part 0/3", "video-content-range-by-part-part-zero"),
        ("part 0/*", "video-content-range-by-part-part-zero"),
        ("part 1/0", "video-content-range-by-part-total-parts-zero"),
        (
            "part 4/3",
            "video-content-range-by-part-part-too-high-total",
        ),
        (
            "part 1/10001",
            "video-content-range-by-part-total-parts-too-high",
        ),
        (
            "part 10001/*",
            "video-content-range-by-part-part-too-high-allowed",
        ),
        (
            "bytes 0-0/0",
            "video-content-range-by-bytes-total-bytes-zero",
        ),
        (
            "bytes 5-4/10",
            "video-content-range-by-bytes-from-byte-too-high",
        ),
        (
            "bytes 0-10/10",
            "video-content-range-by-bytes-to-byte-too-high-total",
        ),
        (
            "bytes 0-209715200/409715200",
            "video-content-range-by-bytes-range-too-large",
        ),
        (
            "bytes 0-1/9999999999999",
            "video-content-range-by-bytes-total-bytes-too-high",
        ),
    ];
    for (h, want) in cases {
        let e = ContentRange::parse(Some(h)).unwrap_err();
        assert_eq!((e.status(), slug(&e)), (400, want), "{h}");
        assert!(e
            .problem
            .type_uri
            .starts_with("https://docs.api.video/reference/"));
    }
    assert!(ContentRange::parse(Some("part 10000/*")).is_ok());
    assert!(ContentRange::parse(Some("part 10000/10000")).is_ok());
}

fn size_err(range: &str, size: u64) -> String {
    let r = ContentRange::parse(Some(range)).unwrap();
    slug(&r.check_size(size).unwrap_err()).to_owned()
}

#[test]
fn sizes_follow_the_five_mib_rule_except_for_the_last_chunk() {
    assert_eq!(
        size_err("part 1/3", 5 * MIB - 1),
        "video-content-range-by-part-uploaded-file-too-small"
    );
    assert_eq!(
        size_err("part 1/*", MIB),
        "video-content-range-by-part-uploaded-file-too-small"
    );
    for (range, size) in [
        ("part 1/3", 5 * MIB),
        ("part 3/3", 1),
        ("part 1/1", 10),
        ("part 4/4", MIB),
    ] {
        assert!(
            ContentRange::parse(Some(range))
                .unwrap()
                .check_size(size)
                .is_ok(),
            "{range}"
        );
    }
    assert_eq!(
        size_err("bytes 0-99/200", 100),
        "video-content-range-by-bytes-range-too-small"
    );
    assert_eq!(
        size_err("bytes 0-99/100", 99),
        "video-content-range-by-bytes-range-mismatch"
    );
    assert!(ContentRange::parse(Some("bytes 100-199/200"))
        .unwrap()
        .check_size(100)
        .is_ok());
    assert_eq!(
        slug(&ContentRange::Whole.check_size(0).unwrap_err()),
        "uploaded-file-empty"
    );
    assert_eq!(
        slug(&ContentRange::Whole.check_size(MAX_CHUNK + 1).unwrap_err()),
        "uploaded-file-too-large"
    );
}
