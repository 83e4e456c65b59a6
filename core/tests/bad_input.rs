//! Bad input, endpoint by endpoint: tables of malformed requests (bodies, queries, headers,
//! `Content-Range` values, multipart forms), each with the status and problem type the service
//! documents for it, written down by hand. Every one goes through the real dispatcher over the
//! in-memory KV, R2 and project indexes, holding tokens, a session, finished and unfinished
//! uploads; each must be answered with that 4xx problem JSON and leave every store exactly as
//! it was. `cargo test -p upload-tokens-core --test bad_input -- --nocapture` prints the count
//! of inputs tried per endpoint.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use upload_tokens_core::http::{Request, Response};
use upload_tokens_core::testing::harness::{basic, json, Harness, KEY_A, KEY_B};
use upload_tokens_core::testing::FormBody;

const MIB: usize = 1024 * 1024;
const REF: &str = "https://docs.api.video/reference/";

/// Deterministic bytes, different for each seed.
fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
        .collect()
}

/// What the tables refer to: tokens, bearer tokens and videos set up before any bad input.
struct Fixture {
    /// An active token of project alpha, and one of beta.
    token: String,
    beta_token: String,
    access: String,
    refresh: String,
    /// Alpha's upload in numbered parts (part 1/3 in), in byte ranges (the first 5 MiB of
    /// 15 MiB in), and its finished whole file; a finished video of beta.
    parts: String,
    ranges: String,
    whole: String,
    beta_video: String,
    /// The bytes of the part-mode upload's part 1.
    part1: Vec<u8>,
}

fn video_id(r: &Response) -> String {
    assert_eq!(r.status, 201, "{:?}", r.body);
    json(r)["videoId"].as_str().unwrap().to_owned()
}

fn fixture(h: &Harness) -> Fixture {
    let token = h.create(KEY_A, 0);
    let beta_token = h.create(KEY_B, 0);
    let login = h.call(
        "POST",
        "/auth/api-key",
        None,
        &format!(r#"{{"apiKey":"{KEY_A}"}}"#),
    );
    assert_eq!(login.status, 200, "{:?}", login.body);
    let pair = json(&login);
    let part1 = bytes(5 * MIB, 1);
    let parts = video_id(&h.upload(&token, Some("part 1/3"), h.file("p.mp4", &part1)));
    let range = format!("bytes 0-{}/{}", 5 * MIB - 1, 15 * MIB);
    let ranges = video_id(&h.upload(&token, Some(&range), h.file("b.mp4", &bytes(5 * MIB, 2))));
    let whole = video_id(&h.upload(&token, None, h.file("w.mp4", b"whole file")));
    let beta_video = video_id(&h.upload(&beta_token, None, h.file("x.mp4", b"beta's")));
    // Every project's index object exists already (first use imports the legacy index).
    h.listed(KEY_A, "");
    h.listed(KEY_B, "");
    Fixture {
        token,
        beta_token,
        access: pair["access_token"].as_str().unwrap().to_owned(),
        refresh: pair["refresh_token"].as_str().unwrap().to_owned(),
        parts,
        ranges,
        whole,
        beta_video,
        part1,
    }
}

/// A request body: JSON-ish bytes, or an upload's form (built when sent).
enum Input<'f> {
    Bytes(Vec<u8>),
    Form(Box<dyn Fn(&Harness) -> FormBody<'_> + 'f>),
}

/// One bad input and the answer documented for it.
struct Case<'f> {
    what: String,
    method: &'static str,
    target: String,
    authorization: Option<String>,
    content_type: Option<&'static str>,
    content_range: Option<String>,
    input: Input<'f>,
    status: u16,
    slug: &'static str,
}

impl<'f> Case<'f> {
    /// `method target` with the Basic credentials of project alpha, a JSON type and no body.
    fn new(what: impl Into<String>, method: &'static str, target: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            method,
            target: target.into(),
            authorization: Some(basic(KEY_A)),
            content_type: Some("application/json"),
            content_range: None,
            input: Input::Bytes(Vec::new()),
            status: 0,
            slug: "",
        }
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.input = Input::Bytes(body.into());
        self
    }

    fn auth(mut self, authorization: Option<String>) -> Self {
        self.authorization = authorization;
        self
    }

    fn content_type(mut self, content_type: Option<&'static str>) -> Self {
        self.content_type = content_type;
        self
    }

    /// An upload: no credentials, a multipart type, the form `form`.
    fn form(mut self, range: Option<&str>, form: impl Fn(&Harness) -> FormBody<'_> + 'f) -> Self {
        self.authorization = None;
        self.content_type = Some("multipart/form-data; boundary=x");
        self.content_range = range.map(str::to_owned);
        self.input = Input::Form(Box::new(form));
        self
    }

    /// The documented answer.
    fn answers(mut self, status: u16, slug: &'static str) -> Self {
        self.status = status;
        self.slug = slug;
        self
    }

    fn send(&self, h: &Harness) -> Response {
        let (path, query) = self
            .target
            .split_once('?')
            .unwrap_or((self.target.as_str(), ""));
        let req = Request {
            method: self.method,
            path,
            query,
            authorization: self.authorization.as_deref(),
            content_type: self.content_type,
            content_range: self.content_range.as_deref(),
            client_addr: "198.51.100.7",
            origin: None,
        };
        match &self.input {
            Input::Bytes(b) => h.send(&req, b.as_slice()),
            Input::Form(form) => h.send(&req, form(h)),
        }
    }
}

/// `Authorization` values that name no caller, each answered 401 on the API-key endpoints.
fn bad_authorizations(f: &Fixture) -> Vec<(&'static str, Option<String>)> {
    let b64 = |s: &str| STANDARD.encode(s);
    vec![
        ("no Authorization", None),
        ("empty", Some(String::new())),
        ("Basic alone", Some("Basic".into())),
        ("Basic, not base64", Some("Basic !!!not-base64!!!".into())),
        ("Basic, no user", Some(format!("Basic {}", b64(":x")))),
        (
            "Basic, an unknown key",
            Some(basic("unknown-key-0000000000")),
        ),
        (
            "Basic, the key one character short",
            Some(basic(&KEY_A[..KEY_A.len() - 1])),
        ),
        (
            "Basic, not UTF-8",
            Some(format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':']))),
        ),
        ("Bearer alone", Some("Bearer ".into())),
        ("Bearer, not a token", Some("Bearer not.a.token".into())),
        ("Bearer, the API key", Some(format!("Bearer {KEY_A}"))),
        (
            "Bearer, the refresh token",
            Some(format!("Bearer {}", f.refresh)),
        ),
        (
            "Bearer, the access token with a changed signature",
            Some(format!("Bearer {}x", f.access)),
        ),
        ("another scheme", Some(format!("Token {KEY_A}"))),
        ("the key without a scheme", Some(KEY_A.into())),
    ]
}

/// The API-key endpoints' cases for every bad `Authorization`.
fn unauthorized<'f>(f: &Fixture, method: &'static str, target: &str, body: &str) -> Vec<Case<'f>> {
    bad_authorizations(f)
        .into_iter()
        .map(|(what, auth)| {
            Case::new(format!("Authorization: {what}"), method, target)
                .auth(auth)
                .body(body)
                .answers(401, "authentication-failed")
        })
        .collect()
}

fn list_tokens<'f>(f: &Fixture) -> Vec<Case<'f>> {
    let q = |query: &str| format!("/upload-tokens?{query}");
    let bad = [
        "sortBy=foo",
        "sortBy=",
        "sortBy=CreatedAt",
        "sortBy=ttl,createdAt",
        "sortOrder=up",
        "sortOrder=ASC",
        "sortOrder=",
        "currentPage=0",
        "currentPage=-1",
        "currentPage=1.5",
        "currentPage=abc",
        "currentPage=%2B1",
        "currentPage=2147483648",
        "currentPage=",
        "pageSize=0",
        "pageSize=101",
        "pageSize=1e2",
        "pageSize=%2010",
        "pageSize=",
        "pageSize=10&pageSize=10",
        "sortBy=ttl&sortBy=ttl",
        "currentPage=1&currentPage=2",
        "metadata=x",
        "metadata[]=v",
        "metadata[k=v",
        "metadata[k]=a&metadata[k]=b",
    ];
    let mut cases: Vec<Case<'f>> = bad
        .iter()
        .map(|query| {
            Case::new(format!("query {query}"), "GET", q(query))
                .answers(400, "request-invalid-query-parameter")
        })
        .collect();
    cases.extend(unauthorized(f, "GET", "/upload-tokens", ""));
    cases
}

fn create_token<'f>(f: &Fixture) -> Vec<Case<'f>> {
    let post = |what: &str, body: &str| Case::new(what, "POST", "/upload-tokens").body(body);
    let mut cases = vec![
        post("not JSON", "{").answers(400, "invalid-payload"),
        post("JSON cut short", r#"{"ttl":3"#).answers(400, "invalid-payload"),
        post("null", "null").answers(400, "invalid-payload"),
        post("an array", "[]").answers(400, "invalid-payload"),
        post("a string", r#""ttl""#).answers(400, "invalid-payload"),
        post("a number", "3600").answers(400, "invalid-payload"),
        post("two objects", r#"{"ttl":1}{"ttl":2}"#).answers(400, "invalid-payload"),
        post("ttl -1", r#"{"ttl":-1}"#).answers(400, "invalid-attribute"),
        post("ttl 2^31", r#"{"ttl":2147483648}"#).answers(400, "invalid-attribute"),
        post("ttl 2^64", r#"{"ttl":18446744073709551616}"#).answers(400, "invalid-attribute"),
        post("ttl 1.5", r#"{"ttl":1.5}"#).answers(400, "invalid-attribute"),
        post("ttl 1e3", r#"{"ttl":1e3}"#).answers(400, "invalid-attribute"),
        post("ttl a string", r#"{"ttl":"60"}"#).answers(400, "invalid-attribute"),
        post("ttl true", r#"{"ttl":true}"#).answers(400, "invalid-attribute"),
        post("ttl an array", r#"{"ttl":[60]}"#).answers(400, "invalid-attribute"),
        post("ttl an object", r#"{"ttl":{"s":60}}"#).answers(400, "invalid-attribute"),
        post("maxUploads 0", r#"{"maxUploads":0}"#).answers(400, "invalid-attribute"),
        post("maxUploads 1000001", r#"{"maxUploads":1000001}"#).answers(400, "invalid-attribute"),
        post("maxUploads a string", r#"{"maxUploads":"1"}"#).answers(400, "invalid-attribute"),
        post("maxFileSize 0", r#"{"maxFileSize":0}"#).answers(400, "invalid-attribute"),
        post("maxFileSize 5 GiB + 1", r#"{"maxFileSize":5368709121}"#)
            .answers(400, "invalid-attribute"),
        post(
            "allowedOrigins a string",
            r#"{"allowedOrigins":"https://a.example"}"#,
        )
        .answers(400, "invalid-attribute"),
        post("allowedOrigins empty", r#"{"allowedOrigins":[]}"#).answers(400, "invalid-attribute"),
        post(
            "allowedOrigins with a path",
            r#"{"allowedOrigins":["https://a.example/app"]}"#,
        )
        .answers(400, "invalid-attribute"),
        post("allowedOrigins a wildcard", r#"{"allowedOrigins":["*"]}"#)
            .answers(400, "invalid-attribute"),
        post(
            "allowedOrigins port 0",
            r#"{"allowedOrigins":["https://a.example:0"]}"#,
        )
        .answers(400, "invalid-attribute"),
        post("allowedOrigins a number", r#"{"allowedOrigins":[443]}"#)
            .answers(400, "invalid-attribute"),
        post("metadata an object", r#"{"metadata":{"k":"v"}}"#).answers(400, "invalid-attribute"),
        post(
            "metadata entry without value",
            r#"{"metadata":[{"key":"k"}]}"#,
        )
        .answers(400, "invalid-attribute"),
        post(
            "metadata key twice",
            r#"{"metadata":[{"key":"k","value":"a"},{"key":"k","value":"b"}]}"#,
        )
        .answers(400, "invalid-attribute"),
        post(
            "metadata empty key",
            r#"{"metadata":[{"key":"","value":"a"}]}"#,
        )
        .answers(400, "invalid-attribute"),
        post("declared as text/plain", r#"{"ttl":60}"#)
            .content_type(Some("text/plain"))
            .answers(415, "unsupported-media-type"),
        post("declared as a form", "ttl=60")
            .content_type(Some("application/x-www-form-urlencoded"))
            .answers(415, "unsupported-media-type"),
        post(
            "a body over 16 KiB",
            &format!(r#"{{"ttl":60,"pad":"{}"}}"#, "x".repeat(16 * 1024)),
        )
        .answers(413, "payload-too-large"),
    ];
    cases.extend(unauthorized(f, "POST", "/upload-tokens", r#"{"ttl":60}"#));
    cases
}

/// `GET` or `DELETE /upload-tokens/{token}`.
fn one_token<'f>(f: &Fixture, method: &'static str) -> Vec<Case<'f>> {
    let at = |id: &str| format!("/upload-tokens/{id}");
    let ids = [
        ("not a token id", "abc".to_owned()),
        (
            "a token id one character short",
            f.token[..f.token.len() - 1].to_owned(),
        ),
        (
            "a token id with a bad character",
            format!("{}!", &f.token[..f.token.len() - 1]),
        ),
        (
            "a well-formed token no one made",
            format!("to{}", "Q".repeat(22)),
        ),
        ("a video id", f.whole.clone()),
        ("another project's token", f.beta_token.clone()),
        ("percent-encoded junk", "%00%ff".to_owned()),
    ];
    let mut cases: Vec<Case<'f>> = ids
        .into_iter()
        .map(|(what, id)| Case::new(what, method, at(&id)).answers(404, "resource-not-found"))
        .collect();
    cases.extend(unauthorized(f, method, &at(&f.token), ""));
    cases
}

/// `POST /auth/api-key` or `/auth/refresh`, whose secret is in `field`.
fn auth_exchange<'f>(f: &Fixture, path: &'static str, field: &str) -> Vec<Case<'f>> {
    let post = |what: &str, body: String| Case::new(what, "POST", path).auth(None).body(body);
    let invalid = "authentication-invalid-user-credentials";
    let mut cases = vec![
        post("not JSON", "{".into()).answers(400, "invalid-payload"),
        post("an array", "[]".into()).answers(400, "invalid-payload"),
        post("null", "null".into()).answers(400, "invalid-payload"),
        post("no body", String::new()).answers(400, "invalid-attribute"),
        post("{}", "{}".into()).answers(400, "invalid-attribute"),
        post("the field null", format!(r#"{{"{field}":null}}"#)).answers(400, "invalid-attribute"),
        post("the field a number", format!(r#"{{"{field}":42}}"#))
            .answers(400, "invalid-attribute"),
        post("the field an array", format!(r#"{{"{field}":["x"]}}"#))
            .answers(400, "invalid-attribute"),
        post(
            "the field misspelt",
            format!(r#"{{"{}":"x"}}"#, field.to_uppercase()),
        )
        .answers(400, "invalid-attribute"),
        post("the field empty", format!(r#"{{"{field}":""}}"#)).answers(400, invalid),
        post(
            "the field wrong",
            format!(r#"{{"{field}":"wrong-secret-000000000"}}"#),
        )
        .answers(400, invalid),
        post("declared as text/plain", format!(r#"{{"{field}":"x"}}"#))
            .content_type(Some("text/plain"))
            .answers(415, "unsupported-media-type"),
        post(
            "a body over 16 KiB",
            format!(r#"{{"{field}":"{}"}}"#, "k".repeat(16 * 1024)),
        )
        .answers(413, "payload-too-large"),
    ];
    if field == "refreshToken" {
        cases.extend([
            post(
                "the access token",
                format!(r#"{{"{field}":"{}"}}"#, f.access),
            )
            .answers(400, invalid),
            post("the API key", format!(r#"{{"{field}":"{KEY_A}"}}"#)).answers(400, invalid),
            post(
                "the refresh token with a changed signature",
                format!(r#"{{"{field}":"{}x"}}"#, f.refresh),
            )
            .answers(400, invalid),
        ]);
    } else {
        cases.extend([
            post(
                "the key with a trailing space",
                format!(r#"{{"{field}":"{KEY_A} "}}"#),
            )
            .answers(400, invalid),
            post("a bearer token", format!(r#"{{"{field}":"{}"}}"#, f.access))
                .answers(400, invalid),
        ]);
    }
    cases
}

/// A form of 4 bytes, and one of 5 MiB.
fn tiny(h: &Harness) -> FormBody<'_> {
    h.file("t.mp4", b"tiny")
}

fn five(h: &Harness) -> FormBody<'_> {
    h.file("p.mp4", &[7u8; 5 * MIB])
}

fn upload<'f>(f: &'f Fixture) -> Vec<Case<'f>> {
    let up = |what: &str, query: String| Case::new(what, "POST", format!("/upload{query}"));
    let with_token = format!("?token={}", f.token);
    let to = |what: &str| up(what, with_token.clone());
    let range = |what: &str, header: &str, status: u16, slug: &'static str| {
        to(&format!("Content-Range: {what}"))
            .form(Some(header), tiny)
            .answers(status, slug)
    };
    let mut cases = vec![
        // The token.
        up("no token", String::new())
            .form(None, tiny)
            .answers(401, "authentication-invalid-upload-token"),
        up("an empty token", "?token=".into())
            .form(None, tiny)
            .answers(401, "authentication-invalid-upload-token"),
        up("a malformed token", "?token=to123".into())
            .form(None, tiny)
            .answers(401, "authentication-invalid-upload-token"),
        up(
            "a token no one made",
            format!("?token=to{}", "Q".repeat(22)),
        )
        .form(None, tiny)
        .answers(401, "authentication-invalid-upload-token"),
        up("an API key as token", format!("?token={KEY_A}"))
            .form(None, tiny)
            .answers(401, "authentication-invalid-upload-token"),
        // The form.
        to("not multipart (a JSON body)")
            .body(r#"{"file":"x"}"#)
            .answers(400, "uploaded-file-invalid-file"),
        to("a multipart body the parser refuses")
            .form(None, |h| FormBody::malformed(&h.objects))
            .answers(400, "uploaded-file-invalid-file"),
        to("no file part")
            .form(None, |h| FormBody::new(&h.objects).field("videoId", "x"))
            .answers(400, "uploaded-file-no-file"),
        to("two file parts")
            .form(None, |h| tiny(h).file("u.mp4", "video/mp4", b"more"))
            .answers(400, "uploaded-file-multiple-files"),
        to("an empty file")
            .form(None, |h| h.file("e.mp4", b""))
            .answers(400, "uploaded-file-empty"),
        to("videoId malformed")
            .form(None, |h| tiny(h).field("videoId", "not-a-video"))
            .answers(404, "resource-not-found"),
        to("videoId no one made")
            .form(None, |h| {
                tiny(h).field("videoId", &format!("vi{}", "Q".repeat(22)))
            })
            .answers(404, "resource-not-found"),
        to("videoId of another project")
            .form(None, |h| tiny(h).field("videoId", &f.beta_video))
            .answers(404, "resource-not-found"),
        // Content-Range on its own.
        range("empty", "", 400, "video-content-range-malformed"),
        range("part", "part", 400, "video-content-range-malformed"),
        range("part a/2", "part a/2", 400, "video-content-range-malformed"),
        range(
            "part -1/2",
            "part -1/2",
            400,
            "video-content-range-malformed",
        ),
        range("part 1/", "part 1/", 400, "video-content-range-malformed"),
        range(
            "parts 1/2",
            "parts 1/2",
            400,
            "video-content-range-malformed",
        ),
        range(
            "bytes 0-3",
            "bytes 0-3",
            400,
            "video-content-range-malformed",
        ),
        range(
            "bytes */4",
            "bytes */4",
            400,
            "video-content-range-malformed",
        ),
        range(
            "bytes 0-3/*",
            "bytes 0-3/*",
            400,
            "video-content-range-malformed",
        ),
        range(
            "bytes=0-3/4",
            "bytes=0-3/4",
            400,
            "video-content-range-malformed",
        ),
        range(
            "a 20-digit number",
            "part 1/10000000000000000000",
            400,
            "video-content-range-malformed",
        ),
        range(
            "part 0/2",
            "part 0/2",
            400,
            "video-content-range-by-part-part-zero",
        ),
        range(
            "part 1/0",
            "part 1/0",
            400,
            "video-content-range-by-part-total-parts-zero",
        ),
        range(
            "part 3/2",
            "part 3/2",
            400,
            "video-content-range-by-part-part-too-high-total",
        ),
        range(
            "part 1/10001 (beyond the cap)",
            "part 1/10001",
            400,
            "video-content-range-by-part-total-parts-too-high",
        ),
        range(
            "part 10001/* (beyond the cap)",
            "part 10001/*",
            400,
            "video-content-range-by-part-part-too-high-allowed",
        ),
        range(
            "part 1/2 of 4 bytes",
            "part 1/2",
            400,
            "video-content-range-by-part-uploaded-file-too-small",
        ),
        range(
            "bytes 0-3/0",
            "bytes 0-3/0",
            400,
            "video-content-range-by-bytes-total-bytes-zero",
        ),
        range(
            "bytes total beyond the cap",
            "bytes 0-3/5363466241",
            400,
            "video-content-range-by-bytes-total-bytes-too-high",
        ),
        range(
            "bytes 3-0/4",
            "bytes 3-0/4",
            400,
            "video-content-range-by-bytes-from-byte-too-high",
        ),
        range(
            "bytes 0-3/3",
            "bytes 0-3/3",
            400,
            "video-content-range-by-bytes-to-byte-too-high-total",
        ),
        range(
            "a range over 200 MiB",
            "bytes 0-209715200/209715201",
            400,
            "video-content-range-by-bytes-range-too-large",
        ),
        range(
            "bytes 0-9/10 of 4 bytes",
            "bytes 0-9/10",
            400,
            "video-content-range-by-bytes-range-mismatch",
        ),
        range(
            "bytes 0-3/100 (not the last, under 5 MiB)",
            "bytes 0-3/100",
            400,
            "video-content-range-by-bytes-range-too-small",
        ),
    ];
    // Content-Range against what an upload holds already.
    type Form<'f> = Box<dyn Fn(&Harness) -> FormBody<'_> + 'f>;
    let against = |what: &str, header: Option<String>, form: Form<'f>| {
        to(what).form(header.as_deref(), move |h| form(h))
    };
    // A form of 5 MiB (or 4 bytes) naming `video`.
    let on = |video: &str, five_mib: bool| -> Form<'f> {
        let video = video.to_owned();
        Box::new(move |h: &Harness| {
            let base = if five_mib { five(h) } else { tiny(h) };
            base.field("videoId", &video)
        })
    };
    let other_bytes: Form<'f> = Box::new(move |h: &Harness| {
        let mut other = f.part1.clone();
        other[12345] ^= 0x80;
        h.file("p.mp4", &other).field("videoId", &f.parts)
    });
    let total = 15 * MIB;
    let second = Some(format!("bytes {}-{}/{total}", 5 * MIB, 10 * MIB - 1));
    cases.extend([
        against(
            "part 2/4 after part 1/3",
            Some("part 2/4".into()),
            on(&f.parts, true),
        )
        .answers(400, "video-content-range-by-part-different-total-parts"),
        against(
            "part 1/3 again, another size",
            Some("part 1/3".into()),
            Box::new(|h: &Harness| {
                h.file("p.mp4", &[7u8; 5 * MIB + 1])
                    .field("videoId", &f.parts)
            }),
        )
        .answers(400, "video-content-range-by-part-part-already-sent"),
        against(
            "part 1/3 again, the same size, other bytes",
            Some("part 1/3".into()),
            other_bytes,
        )
        .answers(400, "video-content-range-by-part-part-already-sent"),
        against(
            "bytes onto a part upload",
            second.clone(),
            on(&f.parts, true),
        )
        .answers(400, "video-content-range-started-with-part"),
        against(
            "no Content-Range onto a part upload",
            None,
            on(&f.parts, false),
        )
        .answers(400, "video-content-range-already-initiated"),
        against(
            "an overlapping range",
            Some(format!("bytes {}-{}/{total}", 4 * MIB, 9 * MIB - 1)),
            on(&f.ranges, true),
        )
        .answers(400, "video-content-range-by-bytes-range-overlap"),
        against(
            "a range with another total",
            Some(format!("bytes {}-{}/{}", 5 * MIB, 10 * MIB - 1, total + 1)),
            on(&f.ranges, true),
        )
        .answers(400, "video-content-range-by-bytes-different-total-bytes"),
        against(
            "part onto a byte-range upload",
            Some("part 2/3".into()),
            on(&f.ranges, true),
        )
        .answers(400, "video-content-range-started-with-bytes"),
        against(
            "a part onto a finished whole file",
            Some("part 1/1".into()),
            on(&f.whole, false),
        )
        .answers(400, "video-source-already-uploaded"),
        against(
            "a whole file onto a finished whole file",
            None,
            on(&f.whole, false),
        )
        .answers(400, "video-source-already-uploaded"),
    ]);
    cases
}

/// `GET /videos/{id}` or `/videos/{id}/source`.
fn video<'f>(f: &Fixture, source: bool) -> Vec<Case<'f>> {
    let at = |id: &str| {
        if source {
            format!("/videos/{id}/source")
        } else {
            format!("/videos/{id}")
        }
    };
    let ids = [
        ("not a video id", "abc".to_owned()),
        (
            "a video id one character short",
            f.whole[..f.whole.len() - 1].to_owned(),
        ),
        (
            "a well-formed video no one made",
            format!("vi{}", "Q".repeat(22)),
        ),
        ("a token id", f.token.clone()),
        ("another project's video", f.beta_video.clone()),
        ("percent-encoded junk", "%2e%2e".to_owned()),
    ];
    let mut cases: Vec<Case<'f>> = ids
        .into_iter()
        .map(|(what, id)| Case::new(what, "GET", at(&id)).answers(404, "resource-not-found"))
        .collect();
    if source {
        cases.push(
            Case::new("an unfinished upload's source", "GET", at(&f.parts))
                .answers(404, "resource-not-found"),
        );
    }
    cases.extend(unauthorized(f, "GET", &at(&f.whole), ""));
    cases
}

#[test]
fn every_bad_input_is_a_documented_4xx_problem_and_changes_nothing_stored() {
    let h = Harness::new();
    let f = fixture(&h);
    let tables: Vec<(&str, Vec<Case<'_>>)> = vec![
        ("GET /upload-tokens", list_tokens(&f)),
        ("POST /upload-tokens", create_token(&f)),
        ("GET /upload-tokens/{token}", one_token(&f, "GET")),
        ("DELETE /upload-tokens/{token}", one_token(&f, "DELETE")),
        (
            "POST /auth/api-key",
            auth_exchange(&f, "/auth/api-key", "apiKey"),
        ),
        (
            "POST /auth/refresh",
            auth_exchange(&f, "/auth/refresh", "refreshToken"),
        ),
        ("POST /upload", upload(&f)),
        ("GET /videos/{videoId}", video(&f, false)),
        ("GET /videos/{videoId}/source", video(&f, true)),
    ];
    let before = h.stored();
    assert!(
        before.len() > 10,
        "the fixture stored something: {before:?}"
    );
    let mut failures = Vec::new();
    let mut total = 0;
    println!("| endpoint | bad inputs |\n|---|---:|");
    for (endpoint, cases) in &tables {
        for case in cases {
            let label = format!("{endpoint}: {}", case.what);
            let r = case.send(&h);
            let problem = r
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok());
            let typed = r.header("Content-Type") == Some("application/json");
            let expected_type = format!("{REF}{}", case.slug);
            let ok = (400..500).contains(&case.status)
                && r.status == case.status
                && typed
                && problem.as_ref().is_some_and(|p| {
                    p["status"] == case.status
                        && p["type"] == expected_type.as_str()
                        && p["title"].as_str().is_some_and(|t| !t.is_empty())
                });
            if !ok {
                failures.push(format!(
                    "{label}: expected {} {}, got {} {:?}",
                    case.status, case.slug, r.status, r.body
                ));
            }
            if h.stored() != before {
                failures.push(format!("{label}: the stores changed"));
            }
        }
        total += cases.len();
        println!("| `{endpoint}` | {} |", cases.len());
    }
    println!("| total | {total} |");
    assert!(failures.is_empty(), "{failures:#?}");
}
