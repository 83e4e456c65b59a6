//! Host CPU cost of the handlers, without any runtime or I/O: the real dispatcher over the
//! in-memory KV and the project index over SQLite in memory (the host harness), for a project
//! of N tokens. Tells how much of a request's time is the service's own work, next to the
//! benchmark's figures of whole requests.
//!
//! Usage: `cargo run --release -p upload-tokens-core --example handler_cost -- [N]` (default 100)

use std::time::Instant;
use upload_tokens_core::config::Config;
use upload_tokens_core::testing::harness::{basic, Harness, KEY_A};

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
    let h = Harness::new();
    for i in 0..n {
        h.create(KEY_A, (i * 37 % 5000) as u32);
    }
    let auth = basic(KEY_A);
    let vars = [
        (
            "API_KEYS",
            format!("cost:{KEY_A},other:other-key-00000000001"),
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
    let iterations = (200_000 / n.max(100)).max(20);
    let cases: [(&str, &str, &str); 5] = [
        ("configuration (parse API_KEYS, digest keys)", "", ""),
        ("list, pageSize 25", "GET", "/upload-tokens?pageSize=25"),
        (
            "list, pageSize 100, sortBy ttl",
            "GET",
            "/upload-tokens?pageSize=100&sortBy=ttl",
        ),
        (
            "get (404)",
            "GET",
            "/upload-tokens/to0000000000000000000000",
        ),
        ("401 (bad key)", "GET", "/upload-tokens"),
    ];
    println!("N = {n}, {iterations} calls per case, host CPU, one thread");
    for (what, method, target) in cases {
        let start = Instant::now();
        for _ in 0..iterations {
            if what.starts_with("configuration") {
                std::hint::black_box(Config::from_vars(var).is_ok());
                continue;
            }
            let key = if what.starts_with("401") {
                BAD_AUTH
            } else {
                &auth
            };
            std::hint::black_box(h.call(method, target, Some(key), "").status);
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
        println!("{what:<46} {us:>9.1} us per call");
    }
}
