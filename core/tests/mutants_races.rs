//! Fixed answers for chunks that race other requests (a chunk's upload assembled, or another
//! chunk removed, between reading the upload and storing the chunk), and for what a chunk costs
//! in storage operations on its cheapest paths.

use upload_tokens_core::ids::VideoId;
use upload_tokens_core::testing::harness::{bytes, video_id, Harness, KEY_A, MIB};
use upload_tokens_core::testing::{MemoryObjects, ObjectOp};
use upload_tokens_core::videos::keys::ObjectKey;

/// Every key of `objects` that `pick` picks.
fn keys_where(objects: &MemoryObjects, pick: impl Fn(&ObjectKey) -> bool) -> Vec<String> {
    let keys = objects.keys().into_iter();
    keys.filter(|k| ObjectKey::parse(k).is_some_and(|key| pick(&key)))
        .collect()
}

/// An upload of three 5 MiB parts with parts 1 and 2 stored: the harness, token and video.
fn two_of_three_parts() -> (Harness, String, String) {
    let h = Harness::new();
    let t = h.create(KEY_A, 0);
    let id = video_id(&h.upload(&t, Some("part 1/3"), h.file("r.mp4", &bytes(5 * MIB, 1))));
    let second = h.file("r.mp4", &bytes(5 * MIB, 2)).field("videoId", &id);
    assert_eq!(video_id(&h.upload(&t, Some("part 2/3"), second)), id);
    (h, t, id)
}

fn chunk_starts(h: &Harness) -> Vec<u64> {
    let chunks = keys_where(&h.objects, |k| matches!(k, ObjectKey::Chunk(..)));
    chunks
        .iter()
        .map(|k| match ObjectKey::parse(k) {
            Some(ObjectKey::Chunk(_, start)) => start,
            _ => unreachable!(),
        })
        .collect()
}

#[test]
fn a_last_part_stored_while_another_request_assembles_the_upload_is_removed_again() {
    let (h, t, id) = two_of_three_parts();
    // Just before this request stores its part 3, another request holding part 3 too stores
    // it, assembles the video and removes its chunks and bookkeeping.
    let source = format!("videos/{id}/source");
    h.objects.meanwhile(
        ObjectOp::Concat,
        Box::new(move |objects| {
            let done = keys_where(objects, |k| {
                matches!(
                    k,
                    ObjectKey::Chunk(..) | ObjectKey::Pending(_) | ObjectKey::Open(_)
                )
            });
            objects.insert_raw(&source, &bytes(15 * MIB, 9));
            objects.remove_raw(&done);
        }),
    );
    let third = h.file("r.mp4", &bytes(5 * MIB, 3)).field("videoId", &id);
    assert_eq!(video_id(&h.upload(&t, Some("part 3/3"), third)), id);
    // Its own part 3 belongs to nothing now: removed, not left where no cleanup looks.
    assert_eq!(h.leftovers(), Vec::<String>::new());
    assert_eq!(
        h.objects
            .bytes(&format!("videos/{id}/source"))
            .unwrap()
            .len(),
        15 * MIB
    );
}

#[test]
fn a_part_stored_while_another_part_of_the_upload_is_taken_back_stays() {
    let (h, t, id) = two_of_three_parts();
    // Just before this request stores its part 3, part 2 is removed (as a request whose part
    // went over a token's limit takes its part back): the upload is not finished, so part 3
    // stays stored for the upload to go on.
    let second = ObjectKey::Chunk(VideoId::parse(&id).unwrap(), 2).to_string();
    assert!(h.objects.keys().contains(&second), "{:?}", h.objects.keys());
    h.objects.meanwhile(
        ObjectOp::Concat,
        Box::new(move |objects| objects.remove_raw(&[second])),
    );
    let third = h.file("r.mp4", &bytes(5 * MIB, 3)).field("videoId", &id);
    assert_eq!(video_id(&h.upload(&t, Some("part 3/3"), third)), id);
    assert_eq!(chunk_starts(&h), vec![1, 3]);
    // Part 2 sent again finishes it.
    let again = h.file("r.mp4", &bytes(5 * MIB, 2)).field("videoId", &id);
    assert_eq!(video_id(&h.upload(&t, Some("part 2/3"), again)), id);
    assert_eq!(chunk_starts(&h), Vec::<u64>::new());
    assert_eq!(h.leftovers(), Vec::<String>::new());
}

/// The storage operations of kind `op` that `f` costs.
fn costs(h: &Harness, op: ObjectOp, f: impl FnOnce(&Harness)) -> usize {
    let before = h.objects.count(op);
    f(h);
    h.objects.count(op) - before
}

#[test]
fn a_byte_range_looks_up_one_open_upload_and_a_last_part_naming_its_total_two() {
    let h = Harness::new();
    let t = h.create(KEY_A, 0);
    // A byte range always names its total: one open upload can match it.
    let gets = costs(&h, ObjectOp::Get, |h| {
        let first = h.file("b.mp4", &bytes(5 * MIB, 1));
        let r = h.upload(&t, Some("bytes 0-5242879/10485760"), first);
        assert_eq!(r.status, 201, "{:?}", r.body);
    });
    assert_eq!(gets, 1);
    // A part naming the total: the upload opened with it, or one opened by parts that did not
    // name it yet.
    let gets = costs(&h, ObjectOp::Get, |h| {
        let r = h.upload(&t, Some("part 1/2"), h.file("p.mp4", &bytes(5 * MIB, 1)));
        assert_eq!(r.status, 201, "{:?}", r.body);
    });
    assert_eq!(gets, 2);
}

#[test]
fn a_part_of_a_finished_video_sent_again_lists_its_chunks_once() {
    let (h, t, id) = two_of_three_parts();
    let third = h.file("r.mp4", &bytes(5 * MIB, 3)).field("videoId", &id);
    assert_eq!(video_id(&h.upload(&t, Some("part 3/3"), third)), id);
    assert!(h.objects.bytes(&format!("videos/{id}/source")).is_some());
    let lists = costs(&h, ObjectOp::List, |h| {
        let again = h.file("r.mp4", &bytes(5 * MIB, 3)).field("videoId", &id);
        assert_eq!(video_id(&h.upload(&t, Some("part 3/3"), again)), id);
    });
    assert_eq!(lists, 1);
}
