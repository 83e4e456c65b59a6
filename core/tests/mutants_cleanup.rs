//! Fixed answers for the cleanup's walk over staged files (how many a run removes, how many
//! listings it reads) and for the refusal of an expired token that opened no upload.

use upload_tokens_core::testing::harness::{bytes, Harness, KEY_A, MIB, STALE_AFTER, T0};
use upload_tokens_core::testing::{block_on, MemoryObjects, ObjectOp};
use upload_tokens_core::videos::cleanup::{remove_stale_uploads, MAX_REMOVED_PER_RUN};

const NOW: i64 = T0 + STALE_AFTER as i64;

/// A bucket holding staged files named `incoming/{name}`: `(prefix, count, stale)` groups, in
/// key order, each stale one written at T0 and each fresh one at [`NOW`].
fn staged(groups: &[(&str, usize, bool)]) -> MemoryObjects {
    let objects = MemoryObjects::new(T0);
    for &(prefix, n, stale) in groups {
        objects.set_now(if stale { T0 } else { NOW });
        for i in 0..n {
            objects.insert_raw(&format!("incoming/{prefix}{i:04}"), b"x");
        }
    }
    objects
}

fn run(objects: &MemoryObjects) -> usize {
    block_on(remove_stale_uploads(objects, NOW, STALE_AFTER)).unwrap()
}

#[test]
fn stale_files_behind_a_full_page_of_fresh_ones_are_reached_in_one_run() {
    // 1,000 fresh files fill the first page; the 50 stale ones are on the second.
    let objects = staged(&[("a", 1000, false), ("b", 50, true)]);
    assert_eq!(run(&objects), 50);
    assert_eq!(objects.keys().len(), 1000);
    // Two pages of staged files, then one of unfinished uploads: no page read twice.
    assert_eq!(objects.count(ObjectOp::List), 3);
}

#[test]
fn a_run_removes_at_most_its_bound_across_pages() {
    // Page one: 50 stale and 950 fresh; page two: 200 stale.
    let objects = staged(&[("a", 50, true), ("b", 950, false), ("c", 200, true)]);
    assert_eq!(MAX_REMOVED_PER_RUN, 100);
    assert_eq!(run(&objects), 100);
    assert_eq!(objects.keys().len(), 950 + 150);
    assert_eq!(run(&objects), 100);
    assert_eq!(run(&objects), 50);
    assert_eq!(run(&objects), 0);
    assert_eq!(objects.keys().len(), 950);
}

/// Sends the first of two parts with `token`: an upload is open.
fn open_an_upload(h: &Harness, token: &str) {
    let r = h.upload(token, Some("part 1/2"), h.file("a.mp4", &bytes(5 * MIB, 1)));
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[test]
fn an_expired_token_that_opened_nothing_is_refused_after_one_listing() {
    let mut h = Harness::new();
    let other = h.create(KEY_A, 0);
    let expiring = h.create(KEY_A, 10);
    // Another token's upload is open: the bucket is not empty.
    open_an_upload(&h, &other);
    h.set_now(T0 + 20);
    let before = h.objects.total_ops();
    let r = h.upload(
        &expiring,
        Some("part 1/2"),
        h.file("e.mp4", &bytes(5 * MIB, 2)),
    );
    assert_eq!(r.status, 401);
    // One listing of its own open uploads, and nothing staged.
    assert_eq!(h.objects.total_ops() - before, 1);
}

#[test]
fn an_open_upload_key_reads_back_only_with_exactly_its_four_parts_and_a_hex_hash() {
    use upload_tokens_core::ids::TokenId;
    use upload_tokens_core::videos::keys::{ObjectKey, OpenUpload};
    use upload_tokens_core::videos::rules::UploadMode;
    let token = TokenId::parse("to1tcmSFHeYY5KzyhOqVKMKb").unwrap();
    let open = OpenUpload::new(&token, UploadMode::Part, Some(3), "a.mp4");
    let key = ObjectKey::Open(open.clone()).to_string();
    assert_eq!(ObjectKey::parse(&key), Some(ObjectKey::Open(open)));
    let (head, hash) = key.rsplit_once('/').unwrap();
    assert_eq!(hash.len(), 32);
    for bad in [
        format!("{key}/more"),
        format!("{head}/{}", &hash[..31]),
        format!("{head}/{hash}0"),
        format!("{head}/{}g", &hash[..31]),
        format!("{head}/{}A", &hash[..31]),
    ] {
        assert_eq!(ObjectKey::parse(&bad), None, "{bad}");
    }
}

#[test]
fn an_expired_token_finishing_its_upload_hears_401_for_any_bad_body() {
    use upload_tokens_core::testing::FormBody;
    let mut h = Harness::new();
    let token = h.create(KEY_A, 10);
    open_an_upload(&h, &token);
    // Expired, with an upload it may still finish: what it sends is judged only once the body
    // shows which upload it joins; a body that shows nothing is refused as the token is.
    h.set_now(T0 + 20);
    let bodies = [
        FormBody::not_multipart(&h.objects),
        FormBody::malformed(&h.objects),
        FormBody::new(&h.objects).field("videoId", "vi00000000000000000000v1"),
    ];
    for body in bodies {
        let r = h.upload(&token, Some("part 2/2"), body);
        assert_eq!(r.status, 401, "{:?}", r.body);
    }
}
