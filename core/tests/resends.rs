//! A chunk sent again: accepted, and nothing stored twice, only with the very bytes it had; with
//! other bytes of the same size it is refused as api.video refuses a part sent again with
//! another size, and nothing changes. Judged by the SHA-256 each chunk is staged with, kept
//! with the chunk and, once the video is assembled, with its source for the last chunk.

use upload_tokens_core::digest::ContentDigest;
use upload_tokens_core::http::Response;
use upload_tokens_core::ids::VideoId;
use upload_tokens_core::storage::objects::{Concat, ObjectMeta, Objects};
use upload_tokens_core::testing::block_on;
use upload_tokens_core::testing::harness::{bytes, json, Harness, KEY_A, MIB};
use upload_tokens_core::videos::keys::{chunk_total, ObjectKey};

/// `data` with one byte changed: the same size, other bytes.
fn one_byte_off(data: &[u8], at: usize) -> Vec<u8> {
    let mut other = data.to_vec();
    other[at] ^= 0x01;
    other
}

fn video_id(r: &Response) -> String {
    assert_eq!(r.status, 201, "{:?} {:?}", r.body, r.log);
    json(r)["videoId"].as_str().unwrap().to_owned()
}

fn send(h: &Harness, token: &str, range: &str, name: &str, data: &[u8], video: &str) -> Response {
    h.upload(
        token,
        Some(range),
        h.file(name, data).field("videoId", video),
    )
}

/// The whole problem body of a refused chunk, as sent, and the check that it changed nothing
/// stored.
fn refused(h: &Harness, what: &str, f: impl FnOnce(&Harness) -> Response) -> String {
    let before = h.stored();
    let r = f(h);
    assert_eq!(r.status, 400, "{what}: {:?}", r.body);
    assert_eq!(r.header("Content-Type"), Some("application/json"), "{what}");
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"), "{what}");
    assert_eq!(h.stored(), before, "{what}: nothing changed");
    r.body.unwrap()
}

/// An accepted re-send: 201 with the video, nothing stored again.
fn accepted_again(h: &Harness, what: &str, video: &str, f: impl FnOnce(&Harness) -> Response) {
    let before = h.stored();
    let r = f(h);
    assert_eq!(video_id(&r), video, "{what}");
    assert_eq!(h.stored(), before, "{what}: nothing stored twice");
}

fn chunk_key(video: &str, start: u64) -> String {
    ObjectKey::Chunk(VideoId::parse(video).unwrap(), start).to_string()
}

/// The digest chunk `start` of `video` is stored with.
fn chunk_digest(h: &Harness, video: &str, start: u64) -> Option<String> {
    let info = block_on(h.objects.head(&chunk_key(video, start))).unwrap()?;
    info.custom.get("sha256").cloned()
}

/// The problem of a part sent again with another size: the answer a part with other bytes
/// must give too, byte for byte.
const PART_ALREADY_SENT: &str = r#"{"type":"https://docs.api.video/reference/video-content-range-by-part-part-already-sent","title":"This part has already been sent.","status":400,"name":"Content-Range"}"#;

#[test]
fn a_mid_part_sent_again_is_accepted_only_with_the_same_bytes() {
    let h = Harness::new();
    let t = h.create(KEY_A, 0);
    let data = bytes(2 * 5 * MIB + 300, 1);
    let (p1, p2, p3) = (
        &data[..5 * MIB],
        &data[5 * MIB..10 * MIB],
        &data[10 * MIB..],
    );
    let id = video_id(&h.upload(&t, Some("part 1/3"), h.file("m.mp4", p1)));
    video_id(&h.upload(&t, Some("part 3/3"), h.file("m.mp4", p3)));
    // Each chunk is stored with the digest of its bytes.
    assert_eq!(
        chunk_digest(&h, &id, 1),
        Some(ContentDigest::of(p1).to_string())
    );
    assert_eq!(
        chunk_digest(&h, &id, 3),
        Some(ContentDigest::of(p3).to_string())
    );

    // Another size: the refusal as it always was.
    let longer = [p1, b"x"].concat();
    let size_refusal = refused(&h, "part 1 longer", |h| {
        send(h, &t, "part 1/3", "m.mp4", &longer, &id)
    });
    assert_eq!(size_refusal, PART_ALREADY_SENT);
    // The same size, other bytes (first, middle, last byte changed): the same refusal.
    for at in [0, p1.len() / 2, p1.len() - 1] {
        let other = one_byte_off(p1, at);
        let problem = refused(&h, &format!("part 1, byte {at} changed"), |h| {
            send(h, &t, "part 1/3", "m.mp4", &other, &id)
        });
        assert_eq!(problem, size_refusal, "byte {at}");
    }
    // The last part (under 5 MiB) likewise, with and without videoId.
    let other3 = one_byte_off(p3, 7);
    let problem = refused(&h, "part 3, other bytes", |h| {
        send(h, &t, "part 3/3", "m.mp4", &other3, &id)
    });
    assert_eq!(problem, PART_ALREADY_SENT);
    let problem = refused(&h, "part 3 without videoId, other bytes", |h| {
        h.upload(&t, Some("part 3/3"), h.file("m.mp4", &other3))
    });
    assert_eq!(problem, PART_ALREADY_SENT);

    // The same bytes: accepted, nothing stored twice; with `*` for the total too.
    accepted_again(&h, "part 1 again", &id, |h| {
        send(h, &t, "part 1/3", "m.mp4", p1, &id)
    });
    accepted_again(&h, "part 1/* again", &id, |h| {
        send(h, &t, "part 1/*", "m.mp4", p1, &id)
    });
    accepted_again(&h, "part 3 again without videoId", &id, |h| {
        h.upload(&t, Some("part 3/3"), h.file("m.mp4", p3))
    });

    // The upload finishes with the bytes first sent.
    video_id(&send(&h, &t, "part 2/3", "m.mp4", p2, &id));
    assert_eq!(
        h.objects.bytes(&format!("videos/{id}/source")),
        Some(data.clone())
    );
}

#[test]
fn a_finished_videos_last_part_sent_again_is_accepted_only_with_the_same_bytes() {
    for progressive in [false, true] {
        let h = Harness::new();
        let t = h.create(KEY_A, 0);
        let data = bytes(5 * MIB + 1000, 2);
        let (p1, p2) = data.split_at(5 * MIB);
        let first = if progressive { "part 1/*" } else { "part 1/2" };
        let id = video_id(&h.upload(&t, Some(first), h.file("f.mp4", p1)));
        video_id(&h.upload(&t, Some("part 2/2"), h.file("f.mp4", p2)));
        let source = format!("videos/{id}/source");
        assert_eq!(h.objects.bytes(&source), Some(data.clone()));
        // The source keeps its last chunk's digest.
        let info = block_on(h.objects.head(&source)).unwrap().unwrap();
        assert_eq!(
            info.custom.get("last-sha256"),
            Some(&ContentDigest::of(p2).to_string())
        );

        let other = one_byte_off(p2, 999);
        let problem = refused(&h, "last part, other bytes", |h| {
            send(h, &t, "part 2/2", "f.mp4", &other, &id)
        });
        assert_eq!(problem, PART_ALREADY_SENT, "{progressive}");
        // Without videoId the finished upload is not found by name: a new video would start,
        // so that is not a re-send. With it, identical bytes are accepted as before.
        accepted_again(&h, "last part again", &id, |h| {
            send(h, &t, "part 2/2", "f.mp4", p2, &id)
        });
        // An earlier part of a finished video: its digest went with its chunk; judged by its
        // number, as before.
        accepted_again(&h, "first part again", &id, |h| {
            send(h, &t, "part 1/2", "f.mp4", p1, &id)
        });
        assert_eq!(h.objects.bytes(&source), Some(data.clone()));
    }
}

#[test]
fn a_byte_range_sent_again_is_accepted_only_with_the_same_bytes() {
    let h = Harness::new();
    let t = h.create(KEY_A, 0);
    let data = bytes(2 * 5 * MIB + 40, 3);
    let total = data.len();
    let ranges = [
        (format!("bytes 0-{}/{total}", 5 * MIB - 1), 0..5 * MIB),
        (
            format!("bytes {}-{}/{total}", 5 * MIB, 10 * MIB - 1),
            5 * MIB..10 * MIB,
        ),
        (
            format!("bytes {}-{}/{total}", 10 * MIB, total - 1),
            10 * MIB..total,
        ),
    ];
    let id = video_id(&h.upload(
        &t,
        Some(&ranges[0].0),
        h.file("b.mp4", &data[ranges[0].1.clone()]),
    ));
    let other = one_byte_off(&data[ranges[0].1.clone()], 12);
    let problem = refused(&h, "first range, other bytes", |h| {
        send(h, &t, &ranges[0].0, "b.mp4", &other, &id)
    });
    assert_eq!(
        problem,
        r#"{"type":"https://docs.api.video/reference/video-content-range-by-bytes-range-overlap","title":"The range overlaps a range already sent.","status":400,"name":"Content-Range"}"#
    );
    accepted_again(&h, "first range again", &id, |h| {
        send(
            h,
            &t,
            &ranges[0].0,
            "b.mp4",
            &data[ranges[0].1.clone()],
            &id,
        )
    });
    for (range, at) in &ranges[1..] {
        video_id(&send(&h, &t, range, "b.mp4", &data[at.clone()], &id));
    }
    assert_eq!(
        h.objects.bytes(&format!("videos/{id}/source")),
        Some(data.clone())
    );
    // Finished: the range that ends the file is compared with its digest.
    let (last, at) = &ranges[2];
    let other = one_byte_off(&data[at.clone()], 0);
    refused(&h, "last range of a finished video, other bytes", |h| {
        send(h, &t, last, "b.mp4", &other, &id)
    });
    accepted_again(&h, "last range again", &id, |h| {
        send(h, &t, last, "b.mp4", &data[at.clone()], &id)
    });
    // An earlier range of it is judged by its place and size (its digest is gone with its
    // chunk), not against the last range's digest.
    let (first, at) = &ranges[0];
    accepted_again(&h, "first range of a finished video again", &id, |h| {
        send(h, &t, first, "b.mp4", &data[at.clone()], &id)
    });
}

/// A chunk stored by the previous version has no digest: it is judged by its number and size,
/// as then. A source assembled by it has no last digest either.
#[test]
fn chunks_and_sources_stored_without_a_digest_are_judged_by_size() {
    let h = Harness::new();
    let t = h.create(KEY_A, 0);
    let data = bytes(5 * MIB + 10, 4);
    let (p1, p2) = data.split_at(5 * MIB);
    let id = video_id(&h.upload(&t, Some("part 1/2"), h.file("o.mp4", p1)));
    // Written again as the previous version wrote it: its total, no digest.
    strip_digest(&h, &chunk_key(&id, 1), "2");
    assert_eq!(chunk_digest(&h, &id, 1), None);
    let other = one_byte_off(p1, 3);
    accepted_again(&h, "same size, no digest stored", &id, |h| {
        send(h, &t, "part 1/2", "o.mp4", &other, &id)
    });
    let longer = [p1, b"y"].concat();
    let problem = refused(&h, "another size, no digest stored", |h| {
        send(h, &t, "part 1/2", "o.mp4", &longer, &id)
    });
    assert_eq!(problem, PART_ALREADY_SENT);

    video_id(&send(&h, &t, "part 2/2", "o.mp4", p2, &id));
    let source = format!("videos/{id}/source");
    // The first chunk had no digest, the last one had: the source keeps it.
    let info = block_on(h.objects.head(&source)).unwrap().unwrap();
    assert_eq!(
        info.custom.get("last-sha256"),
        Some(&ContentDigest::of(p2).to_string())
    );
    // A source assembled without it: the last part is accepted again by its number.
    strip_source_digest(&h, &source);
    accepted_again(&h, "last part, no digest kept", &id, |h| {
        send(h, &t, "part 2/2", "o.mp4", &one_byte_off(p2, 0), &id)
    });
}

/// Rewrites chunk `key` with its bytes and total only, as versions before digests wrote it.
fn strip_digest(h: &Harness, key: &str, total: &str) {
    let copy = "copy/of-chunk".to_owned();
    h.objects.insert_raw(&copy, &h.objects.bytes(key).unwrap());
    let size = h.objects.bytes(key).unwrap().len() as u64;
    let meta = [(chunk_total::NAME, total)];
    let job = Concat {
        sources: std::slice::from_ref(&copy),
        total: size,
        dest: key,
        meta: ObjectMeta {
            content_type: None,
            custom: &meta,
        },
    };
    block_on(h.objects.concat(job)).unwrap();
    block_on(h.objects.delete(&[copy])).unwrap();
}

/// Rewrites source `key` with its media type and chunk count only.
fn strip_source_digest(h: &Harness, key: &str) {
    let info = block_on(h.objects.head(key)).unwrap().unwrap();
    let copy = "copy/of-source".to_owned();
    h.objects.insert_raw(&copy, &h.objects.bytes(key).unwrap());
    let chunks = info.custom["chunks"].clone();
    let meta = [("chunks", chunks.as_str())];
    let content_type = h.objects.content_type(key);
    let job = Concat {
        sources: std::slice::from_ref(&copy),
        total: info.size,
        dest: key,
        meta: ObjectMeta {
            content_type: content_type.as_deref(),
            custom: &meta,
        },
    };
    block_on(h.objects.concat(job)).unwrap();
    block_on(h.objects.delete(&[copy])).unwrap();
}
