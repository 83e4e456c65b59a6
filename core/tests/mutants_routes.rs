//! Fixed answers for routing: which method and path name which endpoint, and which are a 404
//! or a 405 (with the methods the path takes); and a body that is not a form, sent to
//! `/upload`.

use upload_tokens_core::http::{resolve, Endpoint};
use upload_tokens_core::testing::harness::{json, Harness, KEY_A};

/// What a request resolves to: an endpoint, or the status and `Allow` of its refusal.
#[derive(Debug, PartialEq)]
enum Resolved {
    To(Endpoint),
    Refused(u16, Option<String>),
}

fn resolved(method: &str, path: &str) -> Resolved {
    match resolve(method, path) {
        Ok(e) => Resolved::To(e),
        Err(e) => Resolved::Refused(
            e.status(),
            e.headers
                .iter()
                .find(|(n, _)| *n == "Allow")
                .map(|(_, v)| v.clone()),
        ),
    }
}

#[test]
fn methods_and_paths_resolve_as_written_down() {
    use Resolved::{Refused, To};
    let allow = |a: &str| Some(a.to_owned());
    let table = [
        ("GET", "/upload-tokens", To(Endpoint::ListTokens)),
        ("POST", "/upload-tokens", To(Endpoint::CreateToken)),
        ("PUT", "/upload-tokens", Refused(405, allow("GET, POST"))),
        (
            "GET",
            "/upload-tokens/to1",
            To(Endpoint::GetToken("to1".into())),
        ),
        (
            "DELETE",
            "/upload-tokens/to1",
            To(Endpoint::DeleteToken("to1".into())),
        ),
        (
            "POST",
            "/upload-tokens/to1",
            Refused(405, allow("GET, DELETE")),
        ),
        // An empty id is no token: no endpoint, whatever the method.
        ("GET", "/upload-tokens/", Refused(404, None)),
        ("DELETE", "/upload-tokens/", Refused(404, None)),
        ("POST", "/upload-tokens/", Refused(404, None)),
        ("POST", "/auth/api-key", To(Endpoint::AuthApiKey)),
        ("POST", "/auth/refresh", To(Endpoint::AuthRefresh)),
        ("GET", "/auth/refresh", Refused(405, allow("POST"))),
        ("GET", "/openapi.json", To(Endpoint::OpenApi)),
        ("POST", "/openapi.json", Refused(405, allow("GET"))),
        ("POST", "/upload", To(Endpoint::Upload)),
        ("OPTIONS", "/upload", To(Endpoint::UploadPreflight)),
        ("GET", "/upload", Refused(405, allow("POST, OPTIONS"))),
        ("GET", "/videos/vi1", To(Endpoint::GetVideo("vi1".into()))),
        ("POST", "/videos/vi1", Refused(405, allow("GET"))),
        ("GET", "/videos/", Refused(404, None)),
        ("POST", "/videos/", Refused(404, None)),
        (
            "GET",
            "/videos/vi1/source",
            To(Endpoint::GetVideoSource("vi1".into())),
        ),
        ("DELETE", "/videos/vi1/source", Refused(405, allow("GET"))),
        ("GET", "/videos//source", Refused(404, None)),
        ("PUT", "/videos//source", Refused(404, None)),
        ("GET", "/videos/vi1/other", Refused(404, None)),
        ("GET", "/", Refused(404, None)),
    ];
    for (method, path, want) in table {
        assert_eq!(resolved(method, path), want, "{method} {path}");
    }
}

#[test]
fn a_body_that_is_not_a_form_is_refused_as_an_invalid_file() {
    let h = Harness::new();
    let token = h.create(KEY_A, 0);
    let r = h.call(
        "POST",
        &format!("/upload?token={token}"),
        None,
        "just bytes",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        json(&r)["type"],
        "https://docs.api.video/reference/uploaded-file-invalid-file"
    );
    assert_eq!(h.leftovers(), Vec::<String>::new());
}
