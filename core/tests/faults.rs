//! Faults injected at every storage call of a scripted workload, then seeded random ones, over
//! the in-memory KV, R2 and project indexes. After each run the invariants hold:
//! 1. no video answered 201 is lost or changed once its upload is finished;
//! 2. once the cleanup has run past the stale time, nothing is left but finished videos;
//! 3. no token can upload while not listed (the index's Active tokens are the listing);
//! 4. a refused request (4xx) changed nothing stored (what it staged of its body it removed, or
//!    left to the cleanup when that removal failed).
//!
//! A fault at every call, and 200 seeded random faults, are long runs; this prints their
//! figures: `cargo test --release -p upload-tokens-core --test faults -- --include-ignored
//! --nocapture`. The suite runs a sample: a fault at every 60th call of each store.

use std::collections::BTreeMap;
use upload_tokens_core::http::Response;
use upload_tokens_core::project::ProjectId;
use upload_tokens_core::storage::index::{PageRequest, SortKey, TokenStatus};
use upload_tokens_core::storage::kv::Op;
use upload_tokens_core::testing::harness::{json, Harness, KEY_A, STALE_AFTER, T0};
use upload_tokens_core::testing::{block_on, IndexFault};
use upload_tokens_core::videos::cleanup::remove_stale_uploads;
use upload_tokens_core::videos::keys::{ObjectKey, STAGING_PREFIX};

const MIB: usize = 1024 * 1024;

/// Where a fault strikes: the n-th next call of one store.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Kv(Op, usize),
    Index(IndexFault, usize),
    Objects(usize),
}

fn plan(h: &Harness, fault: Fault) {
    match fault {
        Fault::Kv(op, n) => h.kv().fail(op, n),
        Fault::Index(kind, n) => h.index.transport().fail(kind, n),
        Fault::Objects(n) => h.objects.fail(None, n),
    }
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The writes made so far to KV, the listing, and everything stored (KV, R2 and the index): a
/// request that changed nothing leaves all of them as they were. R2's writes are not counted,
/// nor its staging area: a chunk refused for what is already stored was staged first and
/// removed again, and if that removal fails the staged file is left to the cleanup (which
/// invariant 2 checks).
fn snapshot(h: &Harness) -> (usize, usize, Vec<String>, Vec<String>) {
    let kv = h.kv().counts();
    let staged = format!("r2 {STAGING_PREFIX}");
    let mut stored = h.stored();
    stored.retain(|line| !line.starts_with(&staged));
    (
        kv.writes + kv.deletes,
        h.kv().keys().len(),
        listed(h),
        stored,
    )
}

/// The project's listing, read from its index object directly (no injected fault strikes it).
fn listed(h: &Harness) -> Vec<String> {
    let alpha = ProjectId::parse("alpha").unwrap();
    let page = PageRequest {
        sort_by: SortKey::CreatedAt,
        descending: false,
        offset: 0,
        limit: 1000,
        metadata: Vec::new(),
    };
    let (rows, _) = h
        .index
        .transport()
        .object(&alpha)
        .page(&page, h.now)
        .unwrap();
    rows.into_iter().map(|row| row.token).collect()
}

#[derive(Default)]
struct Run {
    violations: Vec<String>,
    checks: usize,
    /// Videos whose upload was answered complete, with their bytes.
    finished: BTreeMap<String, Vec<u8>>,
}

impl Run {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checks += 1;
        if !ok {
            self.violations.push(what());
        }
    }

    /// Sends until answered with something else than a 500 (as clients retry), checking that a
    /// refusal changed nothing.
    fn send(&mut self, h: &Harness, what: &str, f: &dyn Fn(&Harness) -> Response) -> Response {
        for _ in 0..5 {
            let before = snapshot(h);
            let r = f(h);
            if r.status == 500 {
                continue;
            }
            if (400..500).contains(&r.status) && r.status != 429 {
                let after = snapshot(h);
                self.check(before == after, || {
                    format!("{what}: a {} changed state", r.status)
                });
            }
            return r;
        }
        panic!("{what}: five failures in a row");
    }

    fn create(&mut self, h: &Harness, ttl: u32) -> String {
        let body = format!(r#"{{"ttl":{ttl}}}"#);
        let r = self.send(h, "create", &|h| {
            h.call_as(KEY_A, "POST", "/upload-tokens", &body)
        });
        json(&r)["token"].as_str().unwrap().to_owned()
    }

    fn chunk(
        &mut self,
        h: &Harness,
        token: &str,
        range: Option<&str>,
        name: &str,
        data: &[u8],
    ) -> String {
        let r = self.send(h, "chunk", &|h| h.upload(token, range, h.file(name, data)));
        assert_eq!(r.status, 201, "{:?}", r.body);
        json(&r)["videoId"].as_str().unwrap().to_owned()
    }

    /// A chunk of `p.mp4` that must be refused with a 400.
    fn refused(&mut self, h: &Harness, what: &str, range: Option<&str>, token: &str, data: &[u8]) {
        let r = self.send(h, what, &|h| h.upload(token, range, h.file("p.mp4", data)));
        self.check(r.status == 400, || format!("{what} answered {}", r.status));
    }

    fn finished(&mut self, video: &str, data: Vec<u8>) {
        self.finished.insert(video.to_owned(), data);
    }

    /// The scripted workload: every kind of upload, re-sends, a refusal, a delete, two uploads
    /// interleaved, then the cleanup past the stale time.
    fn workload(&mut self, h: &Harness) {
        let a = self.create(h, 0);
        let b = self.create(h, 3600);
        let c = self.create(h, 0);
        let whole = bytes(300, 1);
        let v = self.chunk(h, &a, None, "w.mp4", &whole);
        self.finished(&v, whole);
        // Three parts, later ones without videoId; the first part sent twice.
        let parts = bytes(2 * 5 * MIB + 50, 2);
        self.chunk(h, &a, Some("part 1/3"), "p.mp4", &parts[..5 * MIB]);
        self.chunk(h, &a, Some("part 1/3"), "p.mp4", &parts[..5 * MIB]);
        // The first part again with other bytes of the same size: refused, nothing changed.
        let other = bytes(5 * MIB, 6);
        self.refused(h, "part 1 with other bytes", Some("part 1/3"), &a, &other);
        self.chunk(h, &a, Some("part 2/3"), "p.mp4", &parts[5 * MIB..10 * MIB]);
        let v = self.chunk(h, &a, Some("part 3/3"), "p.mp4", &parts[10 * MIB..]);
        self.finished(&v, parts.clone());
        // The last part again, after the upload finished (a lost answer); with other bytes it
        // is refused.
        self.chunk(h, &a, Some("part 3/3"), "p.mp4", &parts[10 * MIB..]);
        let other = bytes(parts.len() - 10 * MIB, 7);
        let r = self.send(h, "last part with other bytes", &|h| {
            let form = h.file("p.mp4", &other).field("videoId", &v);
            h.upload(&a, Some("part 3/3"), form)
        });
        self.check(r.status == 400, || {
            format!("last part with other bytes answered {}", r.status)
        });
        // Progressive, interleaved with a byte-range upload of another token.
        let prog = bytes(5 * MIB + 9, 3);
        let range = bytes(5 * MIB + 7, 4);
        let total = range.len();
        self.chunk(h, &b, Some("part 1/*"), "l.webm", &prog[..5 * MIB]);
        let head = format!("bytes 0-{}/{total}", 5 * MIB - 1);
        self.chunk(h, &a, Some(&head), "r.mp4", &range[..5 * MIB]);
        let v = self.chunk(h, &b, Some("part 2/2"), "l.webm", &prog[5 * MIB..]);
        self.finished(&v, prog);
        let tail = format!("bytes {}-{}/{total}", 5 * MIB, total - 1);
        let v = self.chunk(h, &a, Some(&tail), "r.mp4", &range[5 * MIB..]);
        self.finished(&v, range);
        // A refusal, an abandoned upload, a revocation.
        let r = self.send(h, "bad range", &|h| {
            h.upload(&a, Some("part 0/2"), h.file("x.mp4", b"x"))
        });
        self.check(r.status == 400, || {
            format!("bad range answered {}", r.status)
        });
        self.chunk(h, &c, Some("part 1/2"), "gone.mp4", &bytes(5 * MIB, 5));
        let r = self.send(h, "delete", &|h| {
            h.call_as(KEY_A, "DELETE", &format!("/upload-tokens/{c}"), "")
        });
        self.check(r.status == 204, || format!("delete answered {}", r.status));
    }

    fn invariants(&mut self, h: &mut Harness) {
        // 3. What can upload is exactly what is listed.
        let alpha = ProjectId::parse("alpha").unwrap();
        let listed = listed(h);
        let index = h.index.transport().object(&alpha);
        for key in h.kv().keys() {
            let Some(token) = key.strip_prefix("tok:") else {
                continue;
            };
            let status = index.status(token, h.now).unwrap();
            let active = status == TokenStatus::Active;
            self.check(active == listed.contains(&token.to_owned()), || {
                format!(
                    "token {token}: {status:?}, listed {}",
                    listed.contains(&token.to_owned())
                )
            });
        }
        // 2. After the cleanup past the stale time, only finished videos remain.
        h.set_now(T0 + i64::from(STALE_AFTER) + 1);
        while block_on(remove_stale_uploads(&h.objects, h.now, STALE_AFTER)).unwrap() > 0 {}
        for key in h.objects.keys() {
            let kept = match ObjectKey::parse(&key) {
                Some(ObjectKey::Meta(v) | ObjectKey::Source(v)) => {
                    self.finished.contains_key(v.as_str())
                }
                _ => false,
            };
            self.check(kept, || format!("left behind: {key}"));
        }
        // 1. Every finished video has exactly its bytes.
        for (video, data) in &self.finished.clone() {
            let source = h.objects.bytes(&format!("videos/{video}/source"));
            self.check(source.as_ref() == Some(data), || {
                format!("video {video} lost or changed")
            });
        }
    }
}

/// Runs the workload once with `fault` planned: the invariants checked and the violations.
fn run_with(fault: Option<Fault>) -> (usize, Vec<String>) {
    let mut h = Harness::new();
    if let Some(f) = fault {
        plan(&h, f);
    }
    let mut run = Run::default();
    run.workload(&h);
    run.invariants(&mut h);
    let violations = run
        .violations
        .into_iter()
        .map(|v| format!("{fault:?}: {v}"))
        .collect();
    (run.checks, violations)
}

/// How many calls of each store one clean run makes.
fn clean_counts() -> (usize, usize, usize) {
    let h = Harness::new();
    Run::default().workload(&h);
    let kv = h.kv().counts();
    (
        kv.reads + kv.writes + kv.deletes + kv.lists,
        h.index.calls(),
        h.objects.total_ops(),
    )
}

#[test]
#[ignore = "long: run with --include-ignored (see the module's doc)"]
fn a_fault_at_every_storage_call_breaks_no_invariant() {
    faults_every(1);
}

#[test]
fn a_fault_at_every_60th_storage_call_breaks_no_invariant() {
    faults_every(60);
}

fn faults_every(step: usize) {
    let (kv_calls, index_calls, object_calls) = clean_counts();
    let mut faults = Vec::new();
    for op in [Op::Read, Op::Write, Op::Delete, Op::List] {
        faults.extend((0..kv_calls).step_by(step).map(|n| Fault::Kv(op, n)));
    }
    for kind in [IndexFault::Request, IndexFault::Reply] {
        faults.extend(
            (0..index_calls)
                .step_by(step)
                .map(|n| Fault::Index(kind, n)),
        );
    }
    faults.extend((0..object_calls).step_by(step).map(Fault::Objects));
    let (mut checks, mut violations) = (0, Vec::new());
    for &fault in &faults {
        let (c, v) = run_with(Some(fault));
        checks += c;
        violations.extend(v);
    }
    println!(
        "faults injected: {}, workloads run: {}, invariants checked: {checks}, violations: {}",
        faults.len(),
        faults.len(),
        violations.len()
    );
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
#[ignore = "long: run with --include-ignored (see the module's doc)"]
fn seeded_random_faults_break_no_invariant() {
    let (kv_calls, index_calls, object_calls) = clean_counts();
    let mut x: u64 = 0x5EED_2026_1130;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let (mut checks, mut violations, runs) = (0, Vec::new(), 200);
    for _ in 0..runs {
        let fault = match next(3) {
            0 => Fault::Kv(
                [Op::Read, Op::Write, Op::Delete, Op::List][next(4)],
                next(kv_calls),
            ),
            1 => Fault::Index(
                [IndexFault::Request, IndexFault::Reply][next(2)],
                next(index_calls),
            ),
            _ => Fault::Objects(next(object_calls)),
        };
        let (c, v) = run_with(Some(fault));
        checks += c;
        violations.extend(v);
    }
    println!(
        "random faults (seeded): {runs} runs, invariants checked: {checks}, violations: {}",
        violations.len()
    );
    assert!(violations.is_empty(), "{violations:#?}");
}
