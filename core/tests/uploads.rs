//! Uploads and videos end to end on the host: the real dispatcher over the in-memory KV, R2 and
//! project indexes, with injected clocks and injected storage failures.

use upload_tokens_core::http::Response;
use upload_tokens_core::storage::objects::Objects;
use upload_tokens_core::testing::harness::{
    basic, bytes, json, video_id, Harness, KEY_A, KEY_B, MIB, STALE_AFTER, T0,
};
use upload_tokens_core::testing::{block_on, FormBody};
use upload_tokens_core::videos::cleanup::remove_stale_uploads;

fn source_of(h: &Harness, video: &str) -> Option<Vec<u8>> {
    h.objects.bytes(&format!("videos/{video}/source"))
}

fn video(h: &Harness, key: &str, video: &str) -> Response {
    h.call_as(key, "GET", &format!("/videos/{video}"), "")
}

#[test]
fn a_whole_file_is_stored_as_sent_and_nothing_else_stays() {
    let h = Harness::new();
    let t = h.create(KEY_A, 3600);
    let data = bytes(1000, 1);
    let r = h.upload(&t, None, h.file("clip.mp4", &data));
    let id = video_id(&r);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(json(&r)["title"], "clip.mp4");
    assert_eq!(source_of(&h, &id), Some(data.clone()));
    assert_eq!(
        h.objects
            .content_type(&format!("videos/{id}/source"))
            .as_deref(),
        Some("video/mp4")
    );
    assert_eq!(h.leftovers(), Vec::<String>::new());
    let v = video(&h, KEY_A, &id);
    assert_eq!(json(&v)["ingest"]["status"], "uploaded");
    assert_eq!(json(&v)["ingest"]["filesize"], 1000);
    let src = h.call_as(KEY_A, "GET", &format!("/videos/{id}/source"), "");
    assert_eq!(src.status, 200);
    assert_eq!(src.header("Content-Length"), Some("1000"));
    assert_eq!(
        src.header("Content-Disposition"),
        Some(format!("attachment; filename=\"{id}.mp4\"").as_str())
    );
    // Another project sees nothing of it.
    assert_eq!(video(&h, KEY_B, &id).status, 404);
}

#[test]
fn parts_in_any_order_are_assembled_in_order_without_video_id() {
    let h = Harness::new();
    let t = h.create(KEY_A, 0);
    let data = bytes(2 * 5 * MIB + 123, 2);
    let parts: Vec<&[u8]> = vec![
        &data[..5 * MIB],
        &data[5 * MIB..10 * MIB],
        &data[10 * MIB..],
    ];
    let third = h.upload(&t, Some("part 3/3"), h.file("p.mp4", parts[2]));
    let id = video_id(&third);
    let first = h.upload(&t, Some("part 1/3"), h.file("p.mp4", parts[0]));
    assert_eq!(
        video_id(&first),
        id,
        "joins the token's open upload of that name"
    );
    assert_eq!(
        json(&video(&h, KEY_A, &id))["ingest"]["status"],
        "uploading"
    );
    assert_eq!(source_of(&h, &id), None);
    let second = h.upload(&t, Some("part 2/3"), h.file("p.mp4", parts[1]));
    assert_eq!(video_id(&second), id);
    assert_eq!(source_of(&h, &id), Some(data));
    assert_eq!(h.leftovers(), Vec::<String>::new());
    let ingest = &json(&video(&h, KEY_A, &id))["ingest"];
    assert_eq!(
        ingest["receivedParts"]["parts"],
        serde_json::json!([1, 2, 3])
    );
}

#[test]
fn a_progressive_upload_ends_with_the_part_that_names_the_total() {
    let h = Harness::new();
    let t = h.create(KEY_A, 0);
    let data = bytes(6 * MIB + 5 * MIB + 10, 3);
    let a = video_id(&h.upload(&t, Some("part 1/*"), h.file("live.webm", &data[..6 * MIB])));
    let b = video_id(&h.upload(
        &t,
        Some("part 2/*"),
        h.file("live.webm", &data[6 * MIB..11 * MIB]),
    ));
    let c = video_id(&h.upload(&t, Some("part 3/3"), h.file("live.webm", &data[11 * MIB..])));
    assert_eq!((a.as_str(), b.as_str()), (c.as_str(), c.as_str()));
    assert_eq!(source_of(&h, &c), Some(data));
}

#[test]
fn a_byte_range_upload_missing_its_tail_stays_unfinished() {
    let h = Harness::new();
    let t = h.create(KEY_A, 0);
    let data = bytes(5 * MIB + 100, 4);
    let total = data.len();
    let head = format!("bytes 0-{}/{total}", 5 * MIB - 1);
    let id = video_id(&h.upload(&t, Some(&head), h.file("r.mp4", &data[..5 * MIB])));
    assert_eq!(source_of(&h, &id), None, "the last 100 bytes are missing");
    let v = json(&video(&h, KEY_A, &id));
    assert_eq!(v["ingest"]["status"], "uploading");
    assert_eq!(v["ingest"]["receivedBytesTotal"], 5 * MIB);
    let tail = format!("bytes {}-{}/{total}", 5 * MIB, total - 1);
    let form = h.file("r.mp4", &data[5 * MIB..]).field("videoId", &id);
    assert_eq!(video_id(&h.upload(&t, Some(&tail), form)), id);
    assert_eq!(source_of(&h, &id), Some(data));
}

#[test]
fn refusals_are_problems_with_cors_and_store_nothing() {
    let h = Harness::new();
    let t = h.create(KEY_A, 0);
    // An upload with `token` ("" for none), `Content-Range` and a form, refused with `status`
    // and the problem `slug`.
    let refused =
        |token: &str, range: Option<&str>, form: FormBody<'_>, status: u16, slug: &str| {
            let r = h.upload(token, range, form);
            assert_eq!(r.status, status, "{slug}: {:?}", r.body);
            assert!(
                json(&r)["type"].as_str().unwrap().ends_with(slug),
                "{:?}",
                r.body
            );
            assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
            assert_eq!(
                h.objects.keys(),
                Vec::<String>::new(),
                "{slug}: nothing stored"
            );
        };
    let x = || h.file("a.mp4", b"x");
    for token in ["", "to123"] {
        refused(token, None, x(), 401, "authentication-invalid-upload-token");
    }
    for (range, form, slug) in [
        (
            None,
            FormBody::not_multipart(&h.objects),
            "uploaded-file-invalid-file",
        ),
        (None, FormBody::new(&h.objects), "uploaded-file-no-file"),
        (
            None,
            x().file("b.mp4", "video/mp4", b"y"),
            "uploaded-file-multiple-files",
        ),
        (None, h.file("a.mp4", b""), "uploaded-file-empty"),
        (
            Some("part 0/2"),
            x(),
            "video-content-range-by-part-part-zero",
        ),
        (
            Some("part 1/2"),
            x(),
            "video-content-range-by-part-uploaded-file-too-small",
        ),
        (
            Some("bytes 0-9/5"),
            x(),
            "video-content-range-by-bytes-to-byte-too-high-total",
        ),
    ] {
        refused(&t, range, form, 400, slug);
    }
    let unknown_video = x().field("videoId", "vi0000000000000000000000");
    refused(&t, None, unknown_video, 404, "not-found");
}

#[test]
fn a_deleted_token_uploads_nothing_and_an_expired_one_only_finishes_its_own_upload() {
    let mut h = Harness::new();
    let deleted = h.create(KEY_A, 100);
    let expired = h.create(KEY_A, 100);
    let part = bytes(5 * MIB, 5);
    let gone = video_id(&h.upload(&deleted, Some("part 1/2"), h.file("d.mp4", &part)));
    let own = video_id(&h.upload(&expired, Some("part 1/2"), h.file("e.mp4", &part)));
    assert_eq!(h.token_status(KEY_A, "DELETE", &deleted), 204);
    h.set_now(T0 + 200);
    for form in [
        h.file("d.mp4", b"x"),
        h.file("d.mp4", b"x").field("videoId", &gone),
    ] {
        assert_eq!(h.upload(&deleted, Some("part 2/2"), form).status, 401);
    }
    assert_eq!(
        h.upload(&expired, None, h.file("new.mp4", b"x")).status,
        401
    );
    let other = h.file("d.mp4", b"x").field("videoId", &gone);
    assert_eq!(h.upload(&expired, Some("part 2/2"), other).status, 401);
    let done = h.upload(&expired, Some("part 2/2"), h.file("e.mp4", b"tail"));
    assert_eq!(video_id(&done), own);
    assert_eq!(source_of(&h, &own).map(|s| s.len()), Some(5 * MIB + 4));
    // Past the stale time after its expiry, the index has forgotten it too.
    let late = h.create(KEY_A, 100);
    let late_video = video_id(&h.upload(&late, Some("part 1/2"), h.file("l.mp4", &part)));
    h.set_now(T0 + 200 + 100 + i64::from(STALE_AFTER));
    h.create(KEY_A, 0); // a write purges what expired before the kept time
    let form = h.file("l.mp4", b"x").field("videoId", &late_video);
    assert_eq!(h.upload(&late, Some("part 2/2"), form).status, 401);
}

#[test]
fn a_video_of_another_project_is_404_to_an_upload() {
    let h = Harness::new();
    let beta = h.create(KEY_B, 0);
    let alpha = h.create(KEY_A, 0);
    let id = video_id(&h.upload(&beta, Some("part 1/2"), h.file("b.mp4", &bytes(5 * MIB, 6))));
    let r = h.upload(
        &alpha,
        Some("part 2/2"),
        h.file("b.mp4", b"x").field("videoId", &id),
    );
    assert_eq!(r.status, 404);
    assert_eq!(video(&h, KEY_A, &id).status, 404);
    assert_eq!(
        h.call(
            "GET",
            &format!("/videos/{id}"),
            Some(&basic("nobody-key-000000000")),
            ""
        )
        .status,
        401
    );
}

#[test]
fn the_cleanup_removes_stale_uploads_and_staged_leftovers_and_keeps_the_rest() {
    let mut h = Harness::new();
    let t = h.create(KEY_A, 0);
    let finished = video_id(&h.upload(&t, None, h.file("done.mp4", b"whole")));
    let stale = video_id(&h.upload(&t, Some("part 1/2"), h.file("s.mp4", &bytes(5 * MIB, 7))));
    block_on(
        h.objects
            .put_text("incoming/dead-request.1", "left by a request that died"),
    )
    .unwrap();
    h.set_now(T0 + i64::from(STALE_AFTER) - 10);
    let fresh = video_id(&h.upload(&t, Some("part 1/2"), h.file("f.mp4", &bytes(5 * MIB, 8))));
    h.set_now(T0 + i64::from(STALE_AFTER));
    let removed = block_on(remove_stale_uploads(&h.objects, h.now, STALE_AFTER)).unwrap();
    assert_eq!(removed, 2, "the stale upload and the staged leftover");
    let keys = h.objects.keys();
    assert!(keys.iter().all(|k| !k.contains(&stale)), "{keys:?}");
    assert!(!keys.iter().any(|k| k.starts_with("incoming/")));
    assert!(keys.contains(&format!("videos/{finished}/source")));
    assert!(
        keys.contains(&format!("pending/{fresh}")),
        "a recent upload stays"
    );
}

/// A chunked upload's client, as the official clients behave: each chunk is retried until it
/// is answered 201 (a 5xx is retried as is), and later chunks carry no videoId.
fn upload_with_retries(h: &Harness, token: &str, data: &[u8], name: &str) -> (String, usize) {
    let chunks: Vec<&[u8]> = data.chunks(5 * MIB).collect();
    let n = chunks.len();
    let mut id = None;
    let mut failures = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let range = format!("part {}/{n}", i + 1);
        loop {
            let r = h.upload(token, Some(&range), h.file(name, chunk));
            if r.status == 201 {
                let got = video_id(&r);
                assert_eq!(
                    *id.get_or_insert(got.clone()),
                    got,
                    "every chunk joins one video"
                );
                break;
            }
            assert_eq!(
                r.status, 500,
                "a failure is an internal error: {:?}",
                r.body
            );
            assert!(r.log.is_some(), "and it is logged");
            failures += 1;
            assert!(failures < 50);
        }
    }
    (id.unwrap(), failures)
}

/// A failure at each storage call in turn of a three-part upload: whatever fails, the client's
/// retries finish it with the exact bytes, and once the cleanup has run past the stale time
/// nothing but finished videos is left.
#[test]
fn a_failure_at_any_storage_call_of_an_upload_is_finished_by_retries() {
    let data = bytes(2 * 5 * MIB + 77, 9);
    // The number of storage calls a clean run makes.
    let calls = {
        let h = Harness::new();
        let t = h.create(KEY_A, 0);
        let before = h.objects.total_ops();
        upload_with_retries(&h, &t, &data, "f.mp4");
        h.objects.total_ops() - before
    };
    assert!(calls > 10, "{calls}");
    for k in 0..calls {
        let mut h = Harness::new();
        let t = h.create(KEY_A, 0);
        h.objects.fail(None, k);
        let (id, failures) = upload_with_retries(&h, &t, &data, "f.mp4");
        assert!(failures <= 1, "call {k}: {failures} failures");
        assert_eq!(source_of(&h, &id), Some(data.clone()), "call {k}");
        h.set_now(T0 + i64::from(STALE_AFTER));
        block_on(remove_stale_uploads(&h.objects, h.now, STALE_AFTER)).unwrap();
        assert_eq!(h.leftovers(), Vec::<String>::new(), "call {k}");
        let v = video(&h, KEY_A, &id);
        assert_eq!(
            json(&v)["ingest"]["status"],
            "uploaded",
            "call {k}: {:?} {:?}",
            v.body,
            h.objects.keys()
        );
    }
}

#[test]
fn a_refused_upload_token_costs_one_read_and_no_object_or_index_call() {
    let h = Harness::new();
    let deleted = h.create(KEY_A, 0);
    assert_eq!(h.token_status(KEY_A, "DELETE", &deleted), 204);
    for token in [deleted.as_str(), "toUnknownUnknownUnknown1"] {
        let before = h.objects.total_ops();
        let (r, kv, index_calls) = h.cost(|h| h.upload(token, None, h.file("x.mp4", b"x")));
        assert_eq!(r.status, 401, "{token}");
        assert_eq!((kv.reads, kv.writes, kv.lists), (1, 0, 0), "{token}");
        assert_eq!(index_calls, 0, "{token}");
        // Only the harness's own staging of the form touched R2; the service made no call.
        assert_eq!(h.objects.total_ops() - before, 0, "{token}");
    }
}

/// A whole file is complete once its source is written: a failed removal of its pending marker
/// after that is logged, answered 201 (a client's retry without videoId would make a second
/// video), and the marker is the cleanup's to remove.
#[test]
fn a_whole_file_whose_marker_is_not_removed_is_still_answered_201_once() {
    use upload_tokens_core::testing::ObjectOp;
    let mut h = Harness::new();
    let t = h.create(KEY_A, 0);
    let data = bytes(700, 10);
    // The first delete of the request is the marker's (the staged file's comes after).
    h.objects.fail(Some(ObjectOp::Delete), 0);
    let r = h.upload(&t, None, h.file("m.mp4", &data));
    let id = video_id(&r);
    assert!(
        r.log
            .as_deref()
            .is_some_and(|l| l.contains("removing its marker")),
        "{:?}",
        r.log
    );
    assert_eq!(source_of(&h, &id), Some(data.clone()));
    assert_eq!(json(&video(&h, KEY_A, &id))["ingest"]["status"], "uploaded");
    assert!(h.objects.keys().contains(&format!("pending/{id}")));
    h.set_now(T0 + i64::from(STALE_AFTER) + 1);
    block_on(remove_stale_uploads(&h.objects, h.now, STALE_AFTER)).unwrap();
    assert_eq!(h.leftovers(), Vec::<String>::new());
    assert_eq!(source_of(&h, &id), Some(data));
}
