//! Two projects whose ids share a prefix (`alpha` and `alpha2`): neither lists, counts, reads,
//! deletes, uploads to or sees the other's tokens and videos, including the tokens an earlier
//! version left in the KV index under `idx:alpha:` and `idx:alpha2:`.

use upload_tokens_core::ids::TokenId;
use upload_tokens_core::project::ProjectId;
use upload_tokens_core::storage::kv::{Kv, PutOptions};
use upload_tokens_core::testing::block_on;
use upload_tokens_core::testing::harness::{json, Harness, KEY_A, KEY_B, KEY_PREFIXED, T0};
use upload_tokens_core::tokens::store::{legacy, TokenRecord};
use upload_tokens_core::tokens::token::UploadToken;

/// api.video's 404 for an upload token, byte for byte.
const TOKEN_404: &str = r#"{"type":"https://docs.api.video/reference/resource-not-found","title":"The requested resource was not found.","status":404,"name":"uploadToken"}"#;
/// The same for a video.
const VIDEO_404: &str = r#"{"type":"https://docs.api.video/reference/resource-not-found","title":"The requested resource was not found.","status":404,"name":"videoId"}"#;

const OLD_ALPHA: &str = "to00000000000000000old0A";
const OLD_ALPHA2: &str = "to00000000000000000old02";

/// Writes a token the way an earlier version did: its record and its KV index entry.
fn seed_legacy(h: &Harness, project: &str, id: &str, created_at: i64, ttl: u32) {
    let project = ProjectId::parse(project).unwrap();
    let token = UploadToken {
        token: TokenId::parse(id).unwrap(),
        ttl,
        created_at,
        policy: Default::default(),
    };
    let (key, metadata) = legacy::entry(&project, &token);
    let options = PutOptions {
        metadata: Some(&metadata),
        expiration_ttl: token.kv_expiration_ttl(0),
    };
    block_on(h.kv().put(&key.to_string(), "", options)).unwrap();
    block_on(h.store.save(&TokenRecord { project, token }, 0)).unwrap();
}

fn listed_with_total(h: &Harness, key: &str) -> (Vec<String>, u64) {
    let r = h.call_as(key, "GET", "/upload-tokens?sortOrder=asc", "");
    assert_eq!(r.status, 200, "{:?}", r.body);
    let body = json(&r);
    let ids = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap().to_owned())
        .collect();
    (ids, body["pagination"]["itemsTotal"].as_u64().unwrap())
}

/// The listing of the project of `key` holds `token` and nothing else.
fn lists_only(h: &Harness, key: &str, token: &str) {
    assert_eq!(
        listed_with_total(h, key),
        (vec![token.to_owned()], 1),
        "{key}"
    );
}

/// Project, key, legacy token and its creation time, of `alpha` and of `alpha2` (whose id
/// extends `alpha`'s).
const LEGACY: [(&str, &str, &str, i64); 2] = [
    ("alpha", KEY_A, OLD_ALPHA, T0 - 50),
    ("alpha2", KEY_PREFIXED, OLD_ALPHA2, T0 - 100),
];

/// Both projects' legacy entries, written (in the order of `written`, indexes into
/// [`LEGACY`]) before either project's index is used; the first uses (in the order of `used`)
/// import each project's own alone.
fn imported_apart(written: [usize; 2], used: [usize; 2]) {
    let h = Harness::new();
    for i in written {
        let (project, _, token, created_at) = LEGACY[i];
        seed_legacy(&h, project, token, created_at, 0);
    }
    for i in used {
        let (_, key, token, _) = LEGACY[i];
        lists_only(&h, key, token);
    }
    assert_eq!(listed_with_total(&h, KEY_B), (vec![], 0));
}

#[test]
fn legacy_index_entries_are_imported_into_their_own_project_only() {
    imported_apart([1, 0], [0, 1]);
}

#[test]
fn the_longer_id_used_first_does_not_take_the_shorter_ones_entries() {
    imported_apart([0, 1], [1, 0]);
}

#[test]
fn tokens_of_prefix_sharing_projects_stay_apart() {
    let h = Harness::new();
    seed_legacy(&h, "alpha2", OLD_ALPHA2, T0 - 100, 0);
    let a = h.create(KEY_A, 0);
    let a2 = h.create(KEY_PREFIXED, 3600);
    assert_eq!(listed_with_total(&h, KEY_A), (vec![a.clone()], 1));
    assert_eq!(
        listed_with_total(&h, KEY_PREFIXED),
        (vec![OLD_ALPHA2.to_owned(), a2.clone()], 2)
    );
    // Another project's token is answered exactly like a missing one, for get and delete.
    for (key, foreign) in [
        (KEY_A, &a2),
        (KEY_A, &OLD_ALPHA2.to_owned()),
        (KEY_PREFIXED, &a),
    ] {
        for method in ["GET", "DELETE"] {
            let r = h.call_as(key, method, &format!("/upload-tokens/{foreign}"), "");
            assert_eq!(r.status, 404, "{method} {foreign}");
            assert_eq!(r.body.as_deref(), Some(TOKEN_404), "{method} {foreign}");
        }
    }
    // Nothing was deleted by the refused deletes.
    assert_eq!(listed_with_total(&h, KEY_A), (vec![a.clone()], 1));
    assert_eq!(listed_with_total(&h, KEY_PREFIXED).1, 2);
    // Each owner reads and deletes its own.
    let own = h.call_as(KEY_PREFIXED, "GET", &format!("/upload-tokens/{a2}"), "");
    assert_eq!(own.status, 200);
    assert_eq!(json(&own)["token"], a2.as_str());
    assert_eq!(h.token_status(KEY_PREFIXED, "DELETE", &a2), 204);
    assert_eq!(listed_with_total(&h, KEY_A), (vec![a.clone()], 1));
    lists_only(&h, KEY_PREFIXED, OLD_ALPHA2);
    assert_eq!(h.token_status(KEY_A, "DELETE", &a), 204);
    assert_eq!(listed_with_total(&h, KEY_A), (vec![], 0));
    assert_eq!(listed_with_total(&h, KEY_PREFIXED).1, 1);
}

#[test]
fn videos_of_prefix_sharing_projects_stay_apart() {
    let h = Harness::new();
    let a = h.create(KEY_A, 0);
    let a2 = h.create(KEY_PREFIXED, 0);
    let r = h.upload(&a2, None, h.file("mine.mp4", b"alpha2's bytes"));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let video = json(&r)["videoId"].as_str().unwrap().to_owned();
    // The owner sees it and its source.
    let seen = h.call_as(KEY_PREFIXED, "GET", &format!("/videos/{video}"), "");
    assert_eq!(seen.status, 200);
    assert_eq!(json(&seen)["ingest"]["status"], "uploaded");
    let source = h.call_as(KEY_PREFIXED, "GET", &format!("/videos/{video}/source"), "");
    assert_eq!(
        (source.status, source.body.as_deref()),
        (200, Some("alpha2's bytes"))
    );
    // The shorter id sees nothing of it, exactly as if it did not exist.
    for path in [
        format!("/videos/{video}"),
        format!("/videos/{video}/source"),
    ] {
        let r = h.call_as(KEY_A, "GET", &path, "");
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body.as_deref(), Some(VIDEO_404), "{path}");
    }
    // Nor may alpha's token add to it.
    let form = h.file("mine.mp4", b"more").field("videoId", &video);
    let r = h.upload(&a, None, form);
    assert_eq!(r.status, 404);
    assert_eq!(r.body.as_deref(), Some(VIDEO_404));
    // An unfinished upload of alpha2's is not joined by alpha's token of the same file name.
    let part = vec![7u8; 5 * 1024 * 1024];
    let r = h.upload(&a2, Some("part 1/2"), h.file("big.mp4", &part));
    assert_eq!(r.status, 201);
    let open = json(&r)["videoId"].as_str().unwrap().to_owned();
    let r = h.upload(&a, Some("part 2/2"), h.file("big.mp4", b"tail"));
    assert_eq!(r.status, 201);
    assert_ne!(json(&r)["videoId"].as_str().unwrap(), open);
    let v = json(&h.call_as(KEY_PREFIXED, "GET", &format!("/videos/{open}"), ""));
    assert_eq!(v["ingest"]["status"], "uploading");
    assert_eq!(
        v["ingest"]["receivedParts"]["parts"],
        serde_json::json!([1])
    );
}

#[test]
fn the_first_command_imports_on_its_own_clock_and_purges_what_expired_long_ago() {
    let h = Harness::new();
    // Expired a million seconds before T0, far past the kept time; and one that never expires.
    seed_legacy(&h, "alpha", OLD_ALPHA, T0 - 1_000_000, 10);
    seed_legacy(&h, "alpha", "to00000000000000000live0", T0 - 50, 0);
    lists_only(&h, KEY_A, "to00000000000000000live0");
    let alpha = ProjectId::parse("alpha").unwrap();
    let rows: Vec<String> = h
        .index
        .transport()
        .object(&alpha)
        .sql()
        .dump()
        .into_iter()
        .filter(|line| line.starts_with("tokens: "))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("live0"), "{rows:?}");
}
