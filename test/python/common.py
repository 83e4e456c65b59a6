"""Helpers shared by the scenarios that drive the worker with api.video's Python client."""

import datetime as dt
import json
import re
import sys
import traceback
import urllib.error
import urllib.parse
import urllib.request

import apivideo
from apivideo.api.upload_tokens_api import UploadTokensApi
from apivideo.exceptions import ApiException
from apivideo.model.upload_token import UploadToken

TOKEN_RE = re.compile(r"^to[0-9A-Za-z]{22}$")
MAX_TTL = 2147483647
PROBLEM = "https://docs.api.video/reference/"


class Failure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def equal(actual, expected, message):
    if actual != expected:
        raise Failure(f"{message}: expected {expected!r}, got {actual!r}")


def connected_client(base, key):
    """A client pointed at the worker; entering it connects and starts its token refresher."""
    client = apivideo.AuthenticatedApiClient(key)
    client.configuration.host = base
    return client


def raises(fn, exc_type, message):
    """Calls fn, expects exc_type, returns the exception."""
    try:
        result = fn()
    except exc_type as e:
        return e
    except Exception as e:  # a different error is a failure with its own details
        raise Failure(f"{message}: expected {exc_type.__name__}, got {type(e).__name__}: {e}") from e
    raise Failure(f"{message}: expected {exc_type.__name__}, the call returned {result!r}")


def problem_of(exc):
    """The problem JSON an ApiException carries (str after __call_api, bytes from connect())."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    check(isinstance(body, str) and body, f"the error carries a body, got {body!r}")
    problem = json.loads(body)
    check(isinstance(problem, dict), f"problem body is an object: {body}")
    equal(problem.get("status"), exc.status, "problem.status matches the HTTP status")
    check(isinstance(problem.get("type"), str), f"problem.type is a string: {problem}")
    check(isinstance(problem.get("title"), str), f"problem.title is a string: {problem}")
    return problem


def api_error(fn, status, message, exc_type=ApiException):
    exc = raises(fn, exc_type, message)
    equal(exc.status, status, f"{message}: HTTP status (body {exc.body!r})")
    return exc, problem_of(exc)


def check_token(t, ttl=None, near=None):
    check(isinstance(t, UploadToken), f"the client returns an UploadToken model, got {type(t).__name__}")
    check(isinstance(t.token, str) and TOKEN_RE.match(t.token), f"token id form: {t.token!r}")
    check(type(t.ttl) is int and 0 <= t.ttl <= MAX_TTL, f"ttl is an int in range: {t.ttl!r}")
    if ttl is not None:
        equal(t.ttl, ttl, "ttl as created")
    created = t.created_at
    check(isinstance(created, dt.datetime), f"created_at is a datetime: {created!r}")
    check(created.tzinfo is not None, f"created_at carries a time zone: {created!r}")
    equal(created.utcoffset(), dt.timedelta(0), "created_at is UTC")
    equal(created.microsecond, 0, "created_at has whole seconds")
    if near is not None:
        skew = abs(created.timestamp() - near)
        check(skew < 120, f"created_at {created.isoformat()} is within 2 min of now")
    expires = t.get("expires_at", "absent")
    if t.ttl == 0:
        check(expires is None, f"expires_at is None when ttl is 0, got {expires!r}")
    else:
        check(isinstance(expires, dt.datetime), f"expires_at is a datetime: {expires!r}")
        equal(expires.utcoffset(), dt.timedelta(0), "expires_at is UTC")
        equal(expires - created, dt.timedelta(seconds=t.ttl), "expires_at = created_at + ttl")


def key_of(t):
    """Comparable snapshot of a token as the client returned it."""
    return (t.token, t.ttl, t.created_at, t.get("expires_at", "absent"))


def walk(api, **args):
    """Every page of a listing, following the `next` link the way the client exposes it:
    `list()` returns one page with `pagination.links`; the next link's query is fed back."""
    pages = []
    query = dict(args)
    for _ in range(500):
        page = api.list(**query)
        pages.append(page)
        nxt = [l for l in page.pagination.links if l.rel == "next"]
        if not nxt:
            return pages
        url = urllib.parse.urlsplit(nxt[0].uri)
        equal(url.path, "/upload-tokens", "next link path")
        q = dict(urllib.parse.parse_qsl(url.query))
        query = {"current_page": int(q["currentPage"]), "page_size": int(q["pageSize"])}
        if "sortBy" in q:
            query["sort_by"] = q["sortBy"]
        if "sortOrder" in q:
            query["sort_order"] = q["sortOrder"]
    raise Failure("the next links never end")


def empty_project(api):
    """Deletes whatever an earlier run left in a project, so that totals can be checked."""
    while True:
        page = api.list(page_size=100)
        if not page.data:
            return
        for t in page.data:
            api.delete_token(t.token)


def check_page(page, index, total, size, args):
    p = page.pagination
    n = index + 1
    pages_total = max(1, -(-total // size))
    items = max(0, min(size, total - index * size))
    where = f"{args} page {n}"
    equal(p.current_page, n, f"{where}: currentPage")
    equal(p.page_size, size, f"{where}: pageSize")
    equal(p.items_total, total, f"{where}: itemsTotal")
    equal(p.pages_total, pages_total, f"{where}: pagesTotal")
    equal(p.current_page_items, items, f"{where}: currentPageItems")
    equal(len(page.data), items, f"{where}: data length")
    rels = [l.rel for l in p.links]
    want = ["self", "first"] + (["previous"] if n > 1 else []) + (["next"] if n < pages_total else []) + ["last"]
    equal(rels, want, f"{where}: link rels")
    targets = {"self": n, "first": 1, "previous": n - 1, "next": n + 1, "last": pages_total}
    for link in p.links:
        check(link.uri.startswith("/upload-tokens?"), f"{where}: {link.rel} link is relative: {link.uri}")
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link.uri).query))
        equal(q.get("currentPage"), str(targets[link.rel]), f"{where}: {link.rel} currentPage")
        equal(q.get("pageSize"), str(size), f"{where}: {link.rel} pageSize")
        for py, wire in (("sort_by", "sortBy"), ("sort_order", "sortOrder")):
            if py in args:
                equal(q.get(wire), args[py], f"{where}: {link.rel} keeps {wire}")
    for t in page.data:
        check_token(t)


def raw(base, method, path, token=None, body=None):
    """A plain HTTP request (no client), returning (status, parsed JSON body or None)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            status, text = res.status, res.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    return status, (json.loads(text) if text else None)


def run(main):
    """Runs a scenario: exit 0 and a last `OK` line on success, exit 1 with the reason otherwise."""
    try:
        summary = main(sys.argv[1:])
    except Failure as e:
        traceback.print_exc()
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:
        traceback.print_exc()
        print(f"ERROR: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
    print("OK " + json.dumps(summary or {}, sort_keys=True))
    sys.stdout.flush()


__all__ = [
    "MAX_TTL", "PROBLEM", "UploadTokensApi", "api_error", "check", "check_page", "check_token",
    "connected_client", "empty_project", "equal", "key_of", "raises", "raw", "run", "walk",
]
