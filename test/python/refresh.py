"""The Python client's bearer-token life cycle against the worker.

usage: refresh.py BASE KEY ACCESS_TOKEN_TTL

The client, used as a context manager, connects through /auth/api-key and refreshes through
/auth/refresh once `expires_in - 10` seconds have passed. With a short ACCESS_TOKEN_TTL this
checks that the refresh happens, that the client keeps working across it, that the first
access token is refused once its lifetime is over, and that tampered tokens are refused.
"""

import base64
import json
import time

from apivideo.exceptions import ApiException, UnauthorizedException
from apivideo.model.token_creation_payload import TokenCreationPayload

from common import (
    PROBLEM, UploadTokensApi, api_error, check, check_token, connected_client, empty_project, equal,
    raw, run,
)


def tamper_signature(jwt):
    """One character changed in the middle of the signature (not the last one, whose low bits
    may be padding that a lenient decoder ignores)."""
    head, payload, sig = jwt.split(".")
    i = len(sig) // 2
    sig = sig[:i] + ("x" if sig[i] != "x" else "y") + sig[i + 1:]
    return f"{head}.{payload}.{sig}"


def tamper_payload(jwt):
    """Same header and signature, but a payload that claims a far-off expiry."""
    head, payload, sig = jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    check("exp" in claims, f"the access token carries an expiry claim: {claims}")
    claims["exp"] = int(claims["exp"]) + 10 * 365 * 86400
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def main(argv):
    base, key, ttl = argv[0], argv[1], int(argv[2])
    check(ttl > 10, "the client refreshes at expires_in - 10 s: ACCESS_TOKEN_TTL must be above 10")
    client = connected_client(base, key)
    connected_at = time.time()
    with client:
        api = UploadTokensApi(client)
        empty_project(api)
        first_access, first_refresh = client._access_token, client._refresh_token
        check(first_access and first_refresh, "connect() stored an access and a refresh token")
        equal(client.token_type, "Bearer", "token_type")
        lag = client.next_refresh - connected_at
        check(ttl - 11 <= lag <= ttl - 9, f"the client plans its refresh at expires_in - 10 s (in {lag:.1f} s)")

        # Keep using the client until the first access token has outlived its lifetime.
        status, _ = raw(base, "GET", "/upload-tokens", first_access)
        equal(status, 200, "the first access token works at first")
        deadline = connected_at + ttl + 1.5
        seen, calls, created = [first_access], 0, []
        while time.time() < deadline:
            if calls % 3 == 0:
                t = api.create_token(TokenCreationPayload(ttl=3600))
                check_token(t, ttl=3600)
                created.append(t)
            elif calls % 3 == 1:
                equal(api.get_token(created[-1].token).token, created[-1].token, "get after create")
            else:
                page = api.list(page_size=100)
                equal(page.pagination.items_total, len(created), "everything created is listed")
            calls += 1
            if client._access_token != seen[-1]:
                seen.append(client._access_token)
            time.sleep(0.4)
        refreshes = len(seen) - 1
        check(refreshes >= 1, f"the client refreshed its access token within {ttl + 1.5:.1f} s (calls made: {calls})")
        check(client._refresh_token != first_refresh, "the refresh handed over a new refresh token")

        # The first access token is past its lifetime: refused; the current one is not.
        status, body = raw(base, "GET", "/upload-tokens", first_access)
        equal(status, 401, f"an access token past its lifetime is refused (body {body})")
        equal(body.get("status"), 401, "problem.status of the expired token")
        status, _ = raw(base, "GET", "/upload-tokens", client._access_token)
        equal(status, 200, "the refreshed access token works")

        # Tampered access tokens: a changed signature, a forged payload; raw and through the client.
        current = client._access_token
        for what, forged in (
            ("a changed signature", tamper_signature(current)),
            ("a forged payload", tamper_payload(current)),
            ("no token form at all", "abc"),
        ):
            status, body = raw(base, "GET", "/upload-tokens", forged)
            equal(status, 401, f"access token with {what} is refused (body {body})")
            for method, path in (("POST", "/upload-tokens"), ("GET", f"/upload-tokens/{created[0].token}"), ("DELETE", f"/upload-tokens/{created[0].token}")):
                status, _ = raw(base, method, path, forged, {"ttl": 60} if method == "POST" else None)
                equal(status, 401, f"{method} {path} with {what} is refused")
        # The refresh token is no access token.
        status, _ = raw(base, "GET", "/upload-tokens", client._refresh_token)
        equal(status, 401, "a refresh token is not accepted as an access token")

        saved = client._access_token
        client._access_token = tamper_signature(saved)
        try:
            _, problem = api_error(lambda: api.list(), 401, "the client with a tampered access token", UnauthorizedException)
            check(problem["type"].startswith(PROBLEM), f"problem.type {problem['type']}")
        finally:
            client._access_token = saved

        # Refreshing with a tampered refresh token, or with an access token, is refused.
        saved_refresh = client._refresh_token
        for what, bad in (("a tampered refresh token", tamper_signature(saved_refresh)), ("an access token", saved)):
            client._refresh_token = bad
            try:
                _, problem = api_error(client.refresh_token, 400, f"refresh with {what}")
                equal(problem.get("type"), PROBLEM + "authentication-invalid-user-credentials", f"refresh with {what}: problem.type")
            finally:
                client._refresh_token = saved_refresh
        # An explicit refresh with the genuine refresh token still works.
        client.refresh_token()
        check(client._access_token and client._access_token != saved, "an explicit refresh gives a new access token")
        equal(len(api.list(page_size=100).data), len(created), "the client works after the explicit refresh")

    return {"refreshes_seen": refreshes, "calls": calls, "seconds": round(time.time() - connected_at, 1)}


if __name__ == "__main__":
    run(main)
