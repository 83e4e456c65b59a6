"""Hooks of the schemathesis run of test/schemathesis.test.mjs.

/auth/api-key and /auth/refresh are limited per client address (CF-Connecting-IP). Every
request schemathesis makes to them is given an address of its own, so that the generated
requests reach the handlers instead of the limiter. The limiter's own 429 is covered by
test/openapi.test.mjs.

Every other operation counts against its project's limit (600 requests a minute, as
configured), and the whole run, some 30 seconds, sends close to that many. So the stateful
phase, whose steps must share a project to follow the document's links, stays with the
project schemathesis authenticates as (UTS_API_KEY), and every other phase is sent as a
second project (UTS_OTHER_KEY) instead: each gets well under half the limit.

A random upload token or video id never exists. So outside the stateful phase (where the
links carry real ones), every other case whose token or video id was generated as valid data
is given one that does, from a third project that nothing else authenticates as, made by the
test before the run, and is then sent with that project's credentials (UTS_FIXTURE_KEY):

- POST /upload and GET /upload-tokens/{uploadToken}: UTS_UPLOAD_TOKEN, an active token;
- GET /videos/{videoId} and its source: UTS_VIDEO_IDS (comma-separated), in turn.

Since no other request carries that project's credentials, no listing shows the token and no
DELETE can end it. Only values schemathesis meant to be valid are replaced, and only a request
carrying exactly the first project's credentials (or the second's) has them changed, so the
probes without credentials or with wrong ones stay as schemathesis made them.

The stateful phase checks that a token it created can then be read and deleted. A token
created with a ttl of a few seconds rightly expires before a later step reaches it (the
service answers 404 for an expired token), so in that phase only a positive ttl below
STATEFUL_MIN_TTL is raised to it; every other phase sends the ttl as generated.

Failed authentication and refused upload tokens count against the caller's address, so every
request gets an address of its own too: the probes without credentials reach the handlers and
their 401, not the limiter's 429 (which test/hardening and the Miniflare tests cover).

A token's metadata keys must be unique, which a JSON Schema cannot say of an array of objects:
a generated body whose keys repeat gets them renamed (`k1`, `k2`, …), so that only data the
contract calls valid is sent as valid.
"""

import base64
import itertools
import os

import schemathesis
from schemathesis.core.parameters import ParameterLocation

_addresses = itertools.count(1)


def _basic(key):
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode() if key else None


def _keys(name):
    key = os.environ.get(name, "")
    return key, _basic(key)


_main_key, _main_auth = _keys("UTS_API_KEY")
_other_key, _other_auth = _keys("UTS_OTHER_KEY")
_fixture_key, _fixture_auth = _keys("UTS_FIXTURE_KEY")
_upload_token = os.environ.get("UTS_UPLOAD_TOKEN", "")
_video_ids = [v for v in os.environ.get("UTS_VIDEO_IDS", "").split(",") if v]
_turns = {name: itertools.count() for name in ("upload", "token", "video", "video_id")}

STATEFUL_MIN_TTL = 600


def _stateful(case):
    return case.meta is not None and case.meta.phase.name == "stateful"


def _takes_real_value(case, location, container, name, turn):
    """Whether this case gets a real token or id for `name` at `location`: only outside the
    stateful phase, only where schemathesis generated valid data, and every other time."""
    meta = case.meta
    return (
        meta is not None
        and not _stateful(case)
        and not meta.is_negative_at(location)
        and isinstance((container or {}).get(name), str)
        and next(_turns[turn]) % 2 == 0
    )


def _send_as(case, kwargs, key, auth, replacing):
    """Sends the case with `key`'s credentials if it carries exactly one of `replacing`."""
    for name, value in list((case.headers or {}).items()):
        if name.lower() == "authorization" and value in replacing:
            case.headers[name] = auth
            # The session adds the configured credentials, unless the request has its own.
            kwargs["auth"] = (key, "")


def _give_real_values(case):
    """Replaces a generated token or video id by a real one; whether it did."""
    path, method = case.operation.path, case.method.upper()
    if path == "/upload" and method == "POST" and _upload_token:
        if _takes_real_value(case, ParameterLocation.QUERY, case.query, "token", "upload"):
            case.query["token"] = _upload_token
            return True
    elif path == "/upload-tokens/{uploadToken}" and method == "GET" and _upload_token:
        if _takes_real_value(case, ParameterLocation.PATH, case.path_parameters, "uploadToken", "token"):
            case.path_parameters["uploadToken"] = _upload_token
            return True
    elif path.startswith("/videos/{videoId}") and method == "GET" and _video_ids:
        if _takes_real_value(case, ParameterLocation.PATH, case.path_parameters, "videoId", "video"):
            case.path_parameters["videoId"] = _video_ids[next(_turns["video_id"]) % len(_video_ids)]
            return True
    return False


def _sendable_key(key):
    key = str(key)
    return key.strip() != "" and key.isprintable() and not any(c in key for c in "[]&=#%+")


@schemathesis.hook
def before_call(context, case, kwargs):
    if context.operation is None:
        return
    n = next(_addresses)
    if case.headers is None:
        case.headers = {}
    case.headers["CF-Connecting-IP"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    if case.operation.path.startswith("/auth/"):
        return
    # A deepObject key cannot hold the brackets that delimit it, and characters that do not
    # survive a query string's encoding are not the key any more once read back: generated
    # filters are kept to printable keys without brackets, as a client could send them.
    if isinstance(case.query, dict):
        for name, filters in list(case.query.items()):
            if name.startswith("metadata") and isinstance(filters, dict):
                for key in [k for k in filters if not _sendable_key(k)]:
                    del filters[key]
    metadata = case.body.get("metadata") if isinstance(case.body, dict) else None
    if isinstance(metadata, list):
        keys = [m.get("key") for m in metadata if isinstance(m, dict)]
        if len(keys) != len(set(map(str, keys))):
            for i, m in enumerate(metadata):
                if isinstance(m, dict) and "key" in m:
                    m["key"] = f"k{i + 1}"
    if (
        _stateful(case)
        and case.operation.path == "/upload-tokens"
        and case.method.upper() == "POST"
        and isinstance(case.body, dict)
        and type(case.body.get("ttl")) is int
        and 0 < case.body["ttl"] < STATEFUL_MIN_TTL
    ):
        case.body["ttl"] = STATEFUL_MIN_TTL
    if _give_real_values(case) and _fixture_auth:
        _send_as(case, kwargs, _fixture_key, _fixture_auth, (_main_auth, _other_auth))
    elif not _stateful(case) and _other_auth:
        _send_as(case, kwargs, _other_key, _other_auth, (_main_auth,))
