//! A request harness for host tests: the real dispatcher over the in-memory KV, R2 and project
//! indexes, with an injected clock, three projects' keys, and short helpers for the calls tests
//! make most.

use super::{
    block_on, FormBody, LocalIndexes, MemoryIndex, MemoryKv, MemoryLimiter, MemoryObjects,
    SeqEntropy,
};
use crate::config::Config;
use crate::http::{handle, resolve, route_refusal, Answer, Context, Request, Response};
use crate::ids::{Entropy, SystemEntropy};
use crate::storage::index::CommandIndex;
use crate::storage::kv::OpCounts;
use crate::time::UnixSeconds;
use crate::tokens::store::TokenStore;
use crate::videos::keys::ObjectKey;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;

/// The harness's clock at the start.
pub const T0: UnixSeconds = 1_800_000_000;
/// Two keys of project `alpha`, one of `beta`, one of `alpha2` (whose id extends `alpha`'s).
pub const KEY_A: &str = "alpha-key-0000000001";
pub const KEY_A2: &str = "alpha-key-0000000002";
pub const KEY_B: &str = "beta-key-00000000001";
pub const KEY_PREFIXED: &str = "alpha2-key-000000001";
/// How long expired tokens are kept by the index, and uploads wait before they are stale.
pub const STALE_AFTER: u32 = 86_400;
/// One mebibyte.
pub const MIB: usize = 1024 * 1024;

/// Deterministic bytes, different for each seed.
pub fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(u32::from(seed)) as u8
        })
        .collect()
}

/// `Authorization: Basic` of an API key.
pub fn basic(key: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{key}:")))
}

/// The JSON body of an answer.
pub fn json(r: &Response) -> Value {
    serde_json::from_str(r.body.as_deref().expect("a body")).expect("JSON body")
}

/// The id of a token as an answer shows it.
pub fn token_of(token: &Value) -> String {
    token["token"].as_str().unwrap().to_owned()
}

/// The id of the video an upload's first chunk made (a 201).
pub fn video_id(r: &Response) -> String {
    assert_eq!(r.status, 201, "{:?} {:?}", r.body, r.log);
    json(r)["videoId"].as_str().unwrap().to_owned()
}

/// The service on the host.
pub struct Harness {
    pub config: Config,
    pub store: TokenStore<Rc<MemoryKv>>,
    pub index: MemoryIndex<Rc<MemoryKv>>,
    pub objects: MemoryObjects,
    pub limiter: MemoryLimiter,
    pub now: UnixSeconds,
    /// Scripted randomness, when set; the system's otherwise.
    pub entropy: RefCell<Option<SeqEntropy>>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    pub fn new() -> Self {
        Self::with(MemoryLimiter::new(1_000_000), MemoryKv::new(T0))
    }

    /// A harness with this limiter and KV (whose clock should read [`T0`]).
    pub fn with(limiter: MemoryLimiter, kv: MemoryKv) -> Self {
        let vars = [
            (
                "API_KEYS",
                format!("alpha:{KEY_A},alpha:{KEY_A2},beta:{KEY_B},alpha2:{KEY_PREFIXED}"),
            ),
            (
                "AUTH_SIGNING_KEY",
                "test-signing-key-0123456789abcdef".to_owned(),
            ),
            ("RATE_LIMIT", "5".to_owned()),
            ("RATE_LIMIT_PERIOD", "10".to_owned()),
        ];
        let config =
            Config::from_vars(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
                .unwrap_or_else(|_| panic!("test configuration is valid"));
        let kv = Rc::new(kv);
        Self {
            config,
            store: TokenStore::new(kv.clone()),
            index: CommandIndex::new(LocalIndexes::new(kv, STALE_AFTER)),
            objects: MemoryObjects::new(T0),
            limiter,
            now: T0,
            entropy: RefCell::new(None),
        }
    }

    pub fn kv(&self) -> &MemoryKv {
        self.store.kv()
    }

    /// The answer of `f`, the KV operations it cost, and its round trips to the project index.
    pub fn cost(&self, f: impl FnOnce(&Self) -> Response) -> (Response, OpCounts, usize) {
        self.kv().reset_counts();
        let calls = self.index.calls();
        let r = f(self);
        (r, self.kv().counts(), self.index.calls() - calls)
    }

    /// The answer of `f` and the KV operations it cost.
    pub fn ops(&self, f: impl FnOnce(&Self) -> Response) -> (Response, OpCounts) {
        let (r, kv, _) = self.cost(f);
        (r, kv)
    }

    /// Everything stored, line by line: every KV entry, object (with the number of the write
    /// that made it, and its metadata) and index row. Equal snapshots mean a request changed
    /// nothing.
    pub fn stored(&self) -> Vec<String> {
        let kv = self.kv().snapshot().into_iter().map(|l| format!("kv {l}"));
        let objects = self
            .objects
            .snapshot()
            .into_iter()
            .map(|l| format!("r2 {l}"));
        let index = self.index.transport().snapshot().into_iter();
        kv.chain(objects)
            .chain(index.map(|l| format!("index {l}")))
            .collect()
    }

    /// Moves every clock.
    pub fn set_now(&mut self, now: UnixSeconds) {
        self.now = now;
        self.kv().set_now(now);
        self.objects.set_now(now);
    }

    /// Sends a request through the dispatcher; a streamed answer comes back with its bytes
    /// as a lossy UTF-8 body.
    pub fn send<B: crate::http::Body>(&self, req: &Request<'_>, body: B) -> Response {
        let endpoint = match resolve(req.method, req.path) {
            Ok(e) => e,
            Err(e) => return route_refusal(req.path, e),
        };
        let mut system = SystemEntropy;
        let mut scripted = self.entropy.borrow_mut();
        let entropy: &mut dyn Entropy = match scripted.as_mut() {
            Some(e) => e,
            None => &mut system,
        };
        let mut ctx = Context {
            config: &self.config,
            store: &self.store,
            index: &self.index,
            objects: &self.objects,
            limiter: &self.limiter,
            now: self.now,
            entropy,
        };
        match block_on(handle(endpoint, req, body, &mut ctx)) {
            Answer::Api(r) => r,
            Answer::Stream { headers, body } => Response {
                status: 200,
                headers,
                body: Some(String::from_utf8_lossy(&body).into_owned()),
                log: None,
            },
        }
    }

    /// A call with a JSON body (or none) and `Authorization` of `auth`.
    pub fn call(&self, method: &str, target: &str, auth: Option<&str>, body: &str) -> Response {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let req = Request {
            method,
            path,
            query,
            authorization: auth,
            content_type: Some("application/json"),
            client_addr: "192.0.2.1",
            ..Request::default()
        };
        self.send(&req, body.as_bytes())
    }

    /// A call with an API key's Basic credentials.
    pub fn call_as(&self, key: &str, method: &str, target: &str, body: &str) -> Response {
        self.call(method, target, Some(&basic(key)), body)
    }

    /// The status of `method /upload-tokens/{token}` for `key`.
    pub fn token_status(&self, key: &str, method: &str, token: &str) -> u16 {
        self.call_as(key, method, &format!("/upload-tokens/{token}"), "")
            .status
    }

    /// Creates a token with `ttl`; its id.
    pub fn create(&self, key: &str, ttl: u32) -> String {
        self.create_with(key, &serde_json::json!({ "ttl": ttl }))
    }

    /// Creates a token from the JSON `body`; its id.
    pub fn create_with(&self, key: &str, body: &Value) -> String {
        token_of(&self.created(key, body))
    }

    /// Creates a token from the JSON `body`; the token as the answer shows it.
    pub fn created(&self, key: &str, body: &Value) -> Value {
        let r = self.call_as(key, "POST", "/upload-tokens", &body.to_string());
        assert_eq!(r.status, 200, "{body}: {:?}", r.body);
        json(&r)
    }

    /// The tokens of one listing page for `key`.
    pub fn listed(&self, key: &str, query: &str) -> Vec<String> {
        let r = self.call_as(key, "GET", &format!("/upload-tokens?{query}"), "");
        assert_eq!(r.status, 200, "{:?}", r.body);
        json(&r)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["token"].as_str().unwrap().to_owned())
            .collect()
    }

    /// `POST /upload?token=` with `Content-Range` and a form.
    pub fn upload(&self, token: &str, range: Option<&str>, form: FormBody<'_>) -> Response {
        self.upload_from(None, token, range, form)
    }

    /// The same, from a page of `origin` (its `Origin` header), or with no `Origin`.
    pub fn upload_from(
        &self,
        origin: Option<&str>,
        token: &str,
        range: Option<&str>,
        form: FormBody<'_>,
    ) -> Response {
        let query = format!("token={token}");
        let req = Request {
            method: "POST",
            path: "/upload",
            query: &query,
            content_range: range,
            client_addr: "192.0.2.1",
            origin,
            ..Request::default()
        };
        self.send(&req, form)
    }

    /// The keys of the objects in R2 that `keep` keeps, in order.
    pub fn object_keys(&self, keep: impl Fn(&str) -> bool) -> Vec<String> {
        self.objects
            .keys()
            .into_iter()
            .filter(|k| keep(k))
            .collect()
    }

    /// Every object but finished videos' records and sources: what unfinished or refused
    /// uploads leave.
    pub fn leftovers(&self) -> Vec<String> {
        self.object_keys(|k| {
            !matches!(
                ObjectKey::parse(k),
                Some(ObjectKey::Meta(_) | ObjectKey::Source(_))
            )
        })
    }

    /// `POST /auth/api-key` with `key`, which must succeed: the token pair.
    pub fn login(&self, key: &str) -> Value {
        let body = serde_json::json!({ "apiKey": key }).to_string();
        let r = self.call("POST", "/auth/api-key", None, &body);
        assert_eq!(r.status, 200, "{:?}", r.body);
        json(&r)
    }

    /// A form holding one file, staged into this harness's R2.
    pub fn file(&self, name: &str, bytes: &[u8]) -> FormBody<'_> {
        FormBody::new(&self.objects).file(name, "application/octet-stream", bytes)
    }
}
