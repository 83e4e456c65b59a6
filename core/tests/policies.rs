//! Token policies end to end on the host: the real dispatcher over the in-memory KV, R2 and
//! project indexes. Each rule of `maxUploads`, `maxFileSize`, `allowedOrigins` and `metadata`,
//! what their refusals leave (nothing) and what they cost. The listing's filters are in
//! `policy_listing.rs`.

use serde_json::{json as j, Value};
use upload_tokens_core::http::Response;
use upload_tokens_core::storage::kv::OpCounts;
use upload_tokens_core::testing::harness::{json, token_of, video_id, Harness, KEY_A};
use upload_tokens_core::testing::ObjectOp;
use upload_tokens_core::videos::keys::ObjectKey;

const MIB: usize = 1024 * 1024;
const REF: &str = "https://docs.api.video/reference/";
const APP: &str = "https://app.example";

fn get(h: &Harness, token: &str) -> Value {
    let r = h.call_as(KEY_A, "GET", &format!("/upload-tokens/{token}"), "");
    assert_eq!(r.status, 200, "{:?}", r.body);
    json(&r)
}

fn whole(h: &Harness, origin: Option<&str>, token: &str, name: &str, size: usize) -> Response {
    h.upload_from(origin, token, None, h.file(name, &vec![7u8; size]))
}

/// A problem of `status` typed `slug`, readable by a page of `origin` (or `*`).
fn assert_refused(r: &Response, status: u16, slug: &str, cors: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    let p = json(r);
    assert_eq!(p["type"], format!("{REF}{slug}"), "{p}");
    assert_eq!(p["status"], status);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some(cors));
}

fn videos(h: &Harness) -> usize {
    h.object_keys(|k| matches!(ObjectKey::parse(k), Some(ObjectKey::Meta(_))))
        .len()
}

#[test]
fn a_token_without_policies_answers_and_costs_as_before() {
    let h = Harness::new();
    let t = h.created(KEY_A, &j!({"ttl": 60}));
    let keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["createdAt", "expiresAt", "token", "ttl"]);
    let id = token_of(&t);
    assert_eq!(get(&h, &id), t);
    let stored = h.kv().keys();
    assert_eq!(stored, [format!("tok:{id}")]);
    // An upload asks the index once, as before, and the answer may be read from anywhere.
    let (r, _, calls) = h.cost(|h| whole(h, None, &id, "a.mp4", 10));
    video_id(&r);
    assert_eq!(calls, 1);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(r.header("Vary"), None);
    assert_eq!(json(&r)["metadata"], j!([]));
    let (r, ops, calls) = h.cost(|h| h.call_as(KEY_A, "GET", &format!("/upload-tokens/{id}"), ""));
    assert_eq!((r.status, ops.reads, calls), (200, 1, 0));
}

#[test]
fn policies_are_answered_by_create_get_and_list_each_only_when_set() {
    let h = Harness::new();
    let body = j!({
        "ttl": 3600,
        "maxUploads": 2,
        "maxFileSize": 1000,
        "allowedOrigins": ["https://App.Example:443", "http://localhost:8080"],
        "metadata": [{"key": "user", "value": "u1"}]
    });
    let t = h.created(KEY_A, &body);
    assert_eq!(t["maxUploads"], 2);
    assert_eq!(t["uploadsUsed"], 0);
    assert_eq!(t["maxFileSize"], 1000);
    assert_eq!(t["allowedOrigins"], j!([APP, "http://localhost:8080"]));
    assert_eq!(t["metadata"], j!([{"key": "user", "value": "u1"}]));
    let id = token_of(&t);
    assert_eq!(get(&h, &id), t);
    let listed = json(&h.call_as(KEY_A, "GET", "/upload-tokens", ""));
    assert_eq!(listed["data"][0], t);
    // Only the fields set: a token with metadata alone has no uploadsUsed.
    let labelled = h.created(KEY_A, &j!({"metadata": [{"key": "k", "value": "v"}]}));
    let keys: Vec<&str> = labelled
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["createdAt", "expiresAt", "metadata", "token", "ttl"]);
}

#[test]
fn a_bad_policy_is_a_400_naming_it_and_creates_nothing() {
    let h = Harness::new();
    for (body, name) in [
        (j!({"maxUploads": 0}), "maxUploads"),
        (j!({"maxFileSize": "10"}), "maxFileSize"),
        (
            j!({"allowedOrigins": ["https://a.example/path"]}),
            "allowedOrigins",
        ),
        (j!({"allowedOrigins": ["*"]}), "allowedOrigins"),
        (
            j!({"metadata": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}),
            "metadata",
        ),
    ] {
        let (r, ops, calls) =
            h.cost(|h| h.call_as(KEY_A, "POST", "/upload-tokens", &body.to_string()));
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(json(&r)["name"], name, "{body}");
        assert_eq!((ops, calls), (OpCounts::default(), 0), "{body}");
    }
    assert!(h.kv().keys().is_empty());
}

#[test]
fn max_uploads_counts_new_videos_only_and_never_more() {
    let h = Harness::new();
    let id = h.create_with(KEY_A, &j!({"maxUploads": 2}));
    // Video 1, in two parts: its second part does not count.
    let data = vec![3u8; 5 * MIB + 10];
    let first = h.upload(&id, Some("part 1/2"), h.file("one.mp4", &data[..5 * MIB]));
    let one = video_id(&first);
    assert_eq!(get(&h, &id)["uploadsUsed"], 1);
    // Video 2, whole: the second and last.
    let (r, _, calls) = h.cost(|h| whole(h, None, &id, "two.mp4", 10));
    video_id(&r);
    assert_eq!(calls, 2, "the status, then the claim");
    assert_eq!(get(&h, &id)["uploadsUsed"], 2);
    // A third is refused before anything is written.
    let before = h.objects.keys();
    let r = whole(&h, None, &id, "three.mp4", 10);
    assert_refused(&r, 403, "upload-token-max-uploads-reached", "*");
    assert_eq!(json(&r)["name"], "token");
    assert_eq!(h.objects.keys(), before);
    assert_eq!(get(&h, &id)["uploadsUsed"], 2);
    // The first video's last part is still accepted, and completes it.
    let last = h.upload(&id, Some("part 2/2"), h.file("one.mp4", &data[5 * MIB..]));
    assert_eq!(video_id(&last), one);
    assert_eq!(h.objects.bytes(&format!("videos/{one}/source")), Some(data));
    assert_eq!(videos(&h), 2);
    assert_eq!(h.leftovers(), Vec::<String>::new());
    // The GET costs one KV read and one index call (the count), for such tokens only.
    let (r, ops, calls) = h.cost(|h| h.call_as(KEY_A, "GET", &format!("/upload-tokens/{id}"), ""));
    assert_eq!((r.status, ops.reads, calls), (200, 1, 1));
}

#[test]
fn a_claimed_upload_whose_writes_fail_stays_counted() {
    let h = Harness::new();
    let id = h.create_with(KEY_A, &j!({"maxUploads": 1}));
    // The first write after the claim (the video's pending marker, after the staged file)
    // fails.
    h.objects.fail(Some(ObjectOp::Put), 1);
    let r = whole(&h, None, &id, "a.mp4", 10);
    assert_eq!(r.status, 500);
    assert_eq!(get(&h, &id)["uploadsUsed"], 1);
    let r = whole(&h, None, &id, "a.mp4", 10);
    assert_refused(&r, 403, "upload-token-max-uploads-reached", "*");
    assert_eq!(videos(&h), 0);
}

#[test]
fn a_deleted_token_with_max_uploads_is_gone_for_get_at_once() {
    let h = Harness::new();
    let id = h.create_with(KEY_A, &j!({"maxUploads": 1}));
    // The index forgets it first; KV still has the record (a delete stopped halfway).
    let project = upload_tokens_core::project::ProjectId::parse("alpha").unwrap();
    let token = upload_tokens_core::ids::TokenId::parse(&id).unwrap();
    use upload_tokens_core::storage::index::TokenIndex;
    assert!(
        upload_tokens_core::testing::block_on(h.index.remove(&project, &token, h.now)).unwrap()
    );
    assert_eq!(h.token_status(KEY_A, "GET", &id), 404);
}

#[test]
fn max_file_size_refuses_what_would_exceed_it_and_keeps_nothing() {
    let h = Harness::new();
    let id = h.create_with(KEY_A, &j!({"maxFileSize": 6 * MIB + 5}));
    // A whole file over the limit: refused while staged, nothing kept.
    let r = whole(&h, None, &id, "big.mp4", 6 * MIB + 6);
    assert_refused(&r, 413, "upload-token-max-file-size-exceeded", "*");
    assert_eq!(json(&r)["name"], "file");
    assert!(h.objects.keys().is_empty(), "{:?}", h.objects.keys());
    assert_eq!(h.objects.open_multipart_uploads(), 0);
    // Byte ranges declaring a larger total: refused before the body is read.
    let puts = h.objects.count(ObjectOp::Put) + h.objects.count(ObjectOp::Multipart);
    let range = format!("bytes 0-{}/{}", 5 * MIB - 1, 6 * MIB + 6);
    let r = h.upload(&id, Some(&range), h.file("r.mp4", &vec![1u8; 5 * MIB]));
    assert_refused(&r, 413, "upload-token-max-file-size-exceeded", "*");
    assert_eq!(
        h.objects.count(ObjectOp::Put) + h.objects.count(ObjectOp::Multipart),
        puts
    );
    assert!(h.objects.keys().is_empty());
    // Parts: the first fits, a second that takes the video past the limit is refused and
    // not kept; one that fits completes it.
    let data = vec![9u8; 6 * MIB + 5];
    let v = video_id(&h.upload(&id, Some("part 1/2"), h.file("p.mp4", &data[..5 * MIB])));
    let r = h.upload(
        &id,
        Some("part 2/2"),
        h.file("p.mp4", &vec![1u8; MIB + 6]).field("videoId", &v),
    );
    assert_refused(&r, 413, "upload-token-max-file-size-exceeded", "*");
    let chunks = h.object_keys(|k| k.contains("/chunks/"));
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    assert!(h.leftovers().iter().all(|k| !k.starts_with("incoming/")));
    let last = h.upload(
        &id,
        Some("part 2/2"),
        h.file("p.mp4", &data[5 * MIB..]).field("videoId", &v),
    );
    assert_eq!(video_id(&last), v);
    assert_eq!(h.objects.bytes(&format!("videos/{v}/source")), Some(data));
    // Exactly at the limit is fine.
    let exact = h.create_with(KEY_A, &j!({"maxFileSize": 10}));
    video_id(&whole(&h, None, &exact, "ten.mp4", 10));
}

#[test]
fn a_video_keeps_its_limit_whatever_token_sends_its_chunks() {
    let h = Harness::new();
    let limited = h.create_with(KEY_A, &j!({"maxFileSize": 5 * MIB + 10}));
    let open = h.create_with(KEY_A, &j!({}));
    let v = video_id(&h.upload(
        &limited,
        Some("part 1/2"),
        h.file("p.mp4", &vec![1u8; 5 * MIB]),
    ));
    let r = h.upload(
        &open,
        Some("part 2/2"),
        h.file("p.mp4", &[1u8; 11]).field("videoId", &v),
    );
    assert_refused(&r, 413, "upload-token-max-file-size-exceeded", "*");
    let r = h.upload(
        &open,
        Some("part 2/2"),
        h.file("p.mp4", &[1u8; 10]).field("videoId", &v),
    );
    assert_eq!(video_id(&r), v);
}

#[test]
fn allowed_origins_admit_only_those_origins_and_name_them_in_cors() {
    let h = Harness::new();
    let id = h.create_with(KEY_A, &j!({"allowedOrigins": [APP]}));
    // No Origin (curl, a server-side client), or another: 403, nothing read or kept.
    for origin in [
        None,
        Some("https://evil.example"),
        Some("http://app.example"),
    ] {
        let (r, ops, calls) = h.cost(|h| whole(h, origin, &id, "a.mp4", 10));
        assert_eq!(r.status, 403, "{origin:?}");
        assert_eq!(
            json(&r)["type"],
            format!("{REF}upload-token-origin-not-allowed")
        );
        assert_eq!(json(&r)["name"], "Origin");
        assert_eq!(
            r.header("Access-Control-Allow-Origin"),
            origin,
            "{origin:?}"
        );
        assert_eq!(r.header("Vary"), Some("Origin"));
        assert_eq!((ops.reads, calls), (1, 1));
        assert!(h.objects.keys().is_empty());
    }
    let r = whole(&h, Some(APP), &id, "a.mp4", 10);
    video_id(&r);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some(APP));
    assert_eq!(r.header("Vary"), Some("Origin"));
    // Any answer for such a token names the origin, a refusal of another kind too.
    let r = h.upload_from(Some(APP), &id, Some("part 0/1"), h.file("a.mp4", b"x"));
    assert_eq!(
        (r.status, r.header("Access-Control-Allow-Origin")),
        (400, Some(APP))
    );
    // The preflight knows no token: `*`.
    let pre = h.call("OPTIONS", "/upload", None, "");
    assert_eq!(pre.header("Access-Control-Allow-Origin"), Some("*"));
}

#[test]
fn a_video_opened_from_an_allowed_origin_takes_chunks_only_from_one() {
    let h = Harness::new();
    let id = h.create_with(KEY_A, &j!({"allowedOrigins": [APP]}));
    let open = h.create_with(KEY_A, &j!({}));
    let v = video_id(&h.upload_from(
        Some(APP),
        &id,
        Some("part 1/2"),
        h.file("p.mp4", &vec![1u8; 5 * MIB]),
    ));
    let r = h.upload_from(
        None,
        &open,
        Some("part 2/2"),
        h.file("p.mp4", b"end").field("videoId", &v),
    );
    assert_refused(&r, 403, "upload-token-origin-not-allowed", "*");
    let r = h.upload_from(
        Some(APP),
        &open,
        Some("part 2/2"),
        h.file("p.mp4", b"end").field("videoId", &v),
    );
    assert_eq!(video_id(&r), v);
}

#[test]
fn metadata_is_copied_onto_every_video_the_token_creates() {
    let h = Harness::new();
    let labels = j!([{"key": "user", "value": "u1"}, {"key": "course", "value": "c 42"}]);
    let id = h.create_with(KEY_A, &j!({"metadata": labels}));
    let r = whole(&h, None, &id, "a.mp4", 10);
    let v = video_id(&r);
    assert_eq!(json(&r)["metadata"], labels);
    let shown = json(&h.call_as(KEY_A, "GET", &format!("/videos/{v}"), ""));
    assert_eq!(shown["metadata"], labels);
}
