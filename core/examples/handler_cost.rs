//! Host CPU cost of the token handlers, without any runtime or I/O: the real `handle` over the
//! in-memory KV and the project index over SQLite in memory, for a project of N tokens. Tells how much of a request's time is the service's
//! own work, next to the benchmark's figures of whole requests.
//!
//! Usage: `cargo run --release -p upload-tokens-core --example handler_cost -- [N]` (default 100)

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::time::Instant;
use upload_tokens_core::config::Config;
use upload_tokens_core::http::{handle, resolve, Context, Request, Response};
use upload_tokens_core::ids::SystemEntropy;
use upload_tokens_core::storage::index::CommandIndex;
use upload_tokens_core::storage::kv::MemoryKv;
use upload_tokens_core::testing::{block_on, LocalIndexes, MemoryLimiter};
use upload_tokens_core::tokens::store::TokenStore;

const NOW: i64 = 1_800_000_000;
const KEY: &str = "cost-key-000000000001";
/// `Basic` credentials of a key no project has.
const BAD_AUTH: &str = "Basic bm9ib2R5Og==";

fn main() {
    let n: usize = match std::env::args().nth(1).map(|s| s.parse()) {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: handler_cost [N]");
            std::process::exit(2);
        }
    };
    let vars = [
        (
            "API_KEYS",
            format!("cost:{KEY},other:other-key-00000000001,third:third-key-00000000001"),
        ),
        (
            "AUTH_SIGNING_KEY",
            "cost-signing-key-0123456789abcdef".to_owned(),
        ),
    ];
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let Ok(config) = Config::from_vars(var) else {
        eprintln!("invalid configuration");
        std::process::exit(1);
    };
    let kv = std::rc::Rc::new(MemoryKv::new(NOW));
    let store = TokenStore::new(kv.clone());
    let index = CommandIndex::new(LocalIndexes::new(kv, 86_400));
    let limiter = MemoryLimiter::new(u32::MAX);
    let auth = format!("Basic {}", STANDARD.encode(format!("{KEY}:")));
    let call = |method: &str, path: &str, query: &str, auth: &str, body: &str| -> Response {
        let req = Request {
            method,
            path,
            query,
            authorization: Some(auth),
            content_type: Some("application/json"),
            client_addr: "127.0.0.1",
        };
        let endpoint = match resolve(method, path) {
            Ok(e) => e,
            Err(e) => return Response::error(e),
        };
        let mut entropy = SystemEntropy;
        let mut ctx = Context {
            config: &config,
            store: &store,
            index: &index,
            limiter: &limiter,
            now: NOW,
            entropy: &mut entropy,
        };
        block_on(handle(endpoint, &req, body.as_bytes(), &mut ctx))
    };
    for i in 0..n {
        let ttl = i * 37 % 5000;
        let r = call(
            "POST",
            "/upload-tokens",
            "",
            &auth,
            &format!("{{\"ttl\":{ttl}}}"),
        );
        assert_eq!(r.status, 200, "seeding token {i}");
    }
    let iterations = (2_000_000 / n.max(100)).max(20);
    let cases: [(&str, &str, &str, &str); 5] = [
        ("configuration (parse API_KEYS, digest keys)", "", "", ""),
        ("list, pageSize 25", "GET", "/upload-tokens", "pageSize=25"),
        (
            "list, pageSize 100, sortBy ttl",
            "GET",
            "/upload-tokens",
            "pageSize=100&sortBy=ttl",
        ),
        (
            "get (404)",
            "GET",
            "/upload-tokens/to0000000000000000000000",
            "",
        ),
        ("401 (bad key)", "GET", "/upload-tokens", ""),
    ];
    println!("N = {n}, {iterations} calls per case, host CPU, one thread");
    for (what, method, path, query) in cases {
        let start = Instant::now();
        for _ in 0..iterations {
            match what {
                w if w.starts_with("configuration") => {
                    let _ = std::hint::black_box(Config::from_vars(var).is_ok());
                }
                _ => {
                    let key = if what.starts_with("401") {
                        BAD_AUTH
                    } else {
                        &auth
                    };
                    std::hint::black_box(call(method, path, query, key, "").status);
                }
            }
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
        println!("{what:<46} {us:>9.1} us per call");
    }
}
