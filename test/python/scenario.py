"""Upload tokens through api.video's Python client (bearer auth via /auth/api-key).

usage: scenario.py BASE KEY LIST_KEY WRONG_KEY
  KEY       project used for create / get / delete / errors
  LIST_KEY  a fresh project whose listing is walked page by page in every order
"""

import time

import apivideo
from apivideo.exceptions import ApiException, ApiValueError, NotFoundException
from apivideo.model.token_creation_payload import TokenCreationPayload

from common import (
    MAX_TTL, PROBLEM, UploadTokensApi, api_error, check, check_page, check_token,
    connected_client, empty_project, equal, key_of, raises, run, walk,
)

LIST_TTLS = [3600, 0, 600, 86400, 1200, 0, 7200, 600, MAX_TTL, 3600, 900]
LIST_COUNT = 31
PAGE_SIZES = [1, 3, 10, 25, 100]


def crud(api, client):
    created = []
    for ttl in (0, 3600, 30):
        now = time.time()
        t = api.create_token(TokenCreationPayload(ttl=ttl))
        check_token(t, ttl=ttl, near=now)
        created.append(t)
    equal(len({t.token for t in created}), 3, "three distinct token ids")
    for t in created:
        got = api.get_token(t.token)
        check_token(got, ttl=t.ttl)
        equal(key_of(got), key_of(t), "get returns the token as created")

    # No ttl given: ttl defaults to 0.
    plain = api.create_token(TokenCreationPayload())
    check_token(plain, ttl=0, near=time.time())
    # The largest ttl still deserialises (the client range-checks ttl on responses too).
    longest = api.create_token(TokenCreationPayload(ttl=MAX_TTL))
    check_token(longest, ttl=MAX_TTL)
    equal(key_of(api.get_token(longest.token)), key_of(longest), "get of the longest-lived token")

    # Delete: None back, then get and delete again are the client's NotFoundException.
    victim = created[1]
    equal(api.delete_token(victim.token), None, "delete returns None")
    equal(client.last_response.status, 204, "delete answers 204")
    for what, call in (("get", api.get_token), ("delete", api.delete_token)):
        _, problem = api_error(lambda: call(victim.token), 404, f"{what} after delete", NotFoundException)
        equal(problem.get("type"), PROBLEM + "resource-not-found", f"{what} after delete: problem.type")
        equal(problem.get("name"), "uploadToken", f"{what} after delete: problem.name")
    api_error(lambda: api.get_token("to" + "A" * 22), 404, "get of an unknown id", NotFoundException)
    return created


def bad_ttl(api, client):
    # The client checks the ttl range itself before sending anything.
    for ttl in (-1, MAX_TTL + 1):
        raises(lambda: TokenCreationPayload(ttl=ttl), ApiValueError, f"client-side check of ttl {ttl}")
    # With that check switched off, the request reaches the service, which must refuse it.
    client.configuration.disabled_client_side_validations = "minimum,maximum"
    try:
        for ttl in (-1, MAX_TTL + 1):
            payload = TokenCreationPayload(ttl=ttl, _configuration=client.configuration)
            _, problem = api_error(lambda: api.create_token(payload), 400, f"create with ttl {ttl}")
            equal(problem.get("type"), PROBLEM + "invalid-attribute", f"ttl {ttl}: problem.type")
            equal(problem.get("name"), "ttl", f"ttl {ttl}: problem.name")
    finally:
        client.configuration.disabled_client_side_validations = ""
    for args in ({"page_size": 0}, {"page_size": 101}, {"current_page": 0}):
        _, problem = api_error(lambda: api.list(**args), 400, f"list {args}")
        equal(problem.get("type"), PROBLEM + "request-invalid-query-parameter", f"list {args}: problem.type")
        wire = {"page_size": "pageSize", "current_page": "currentPage"}[next(iter(args))]
        equal(problem.get("name"), wire, f"list {args}: problem.name")


def expiry_key(t):
    expires = t.get("expires_at", None)
    return float("inf") if expires is None else expires.timestamp()


def documented_order(sort_by):
    """By the sort key (ttl: remaining lifetime, ttl 0 longest), ties by createdAt then token."""
    if sort_by == "ttl":
        return lambda t: (expiry_key(t), t.created_at, t.token)
    return lambda t: (t.created_at, t.token)


def listing(api):
    empty_project(api)
    created = [api.create_token(TokenCreationPayload(ttl=LIST_TTLS[i % len(LIST_TTLS)])) for i in range(LIST_COUNT)]
    ids = {t.token for t in created}
    calls = 0
    for sort_by in ("createdAt", "ttl"):
        asc = sorted(created, key=documented_order(sort_by))
        for sort_order in ("asc", "desc"):
            expected = asc if sort_order == "asc" else list(reversed(asc))
            for size in PAGE_SIZES:
                args = {"sort_by": sort_by, "sort_order": sort_order, "page_size": size}
                pages = walk(api, **args)
                calls += len(pages)
                equal(len(pages), -(-LIST_COUNT // size), f"{args}: pages walked")
                for i, page in enumerate(pages):
                    check_page(page, i, LIST_COUNT, size, args)
                seen = [t for page in pages for t in page.data]
                seen_ids = [t.token for t in seen]
                equal(len(set(seen_ids)), len(seen_ids), f"{args}: no token repeated")
                equal(sorted(ids - set(seen_ids)), [], f"{args}: no token missing")
                equal(seen_ids, [t.token for t in expected], f"{args}: order")
                equal([key_of(t) for t in seen], [key_of(t) for t in expected], f"{args}: fields")
    # Defaults: pages of 25.
    pages = walk(api)
    for i, page in enumerate(pages):
        check_page(page, i, LIST_COUNT, 25, {})
    equal(sorted(t.token for p in pages for t in p.data), sorted(ids), "default listing holds every token")
    return created, calls


# A fixed table: six tokens, each created in a second of its own, lifetimes far apart (t3 +1 h,
# t1 +2 h, t6 +3 h, t4 +1 day, t2 and t5 never), so every order and link below is written down
# by hand from README's contract rather than computed.
FIXED_TTLS = [7200, 0, 3600, 86400, 0, 10800]
FIXED_ORDERS = [
    ({"sort_by": "createdAt", "sort_order": "asc"}, ["t1", "t2", "t3", "t4", "t5", "t6"]),
    ({"sort_by": "createdAt", "sort_order": "desc"}, ["t6", "t5", "t4", "t3", "t2", "t1"]),
    ({"sort_by": "ttl", "sort_order": "asc"}, ["t3", "t1", "t6", "t4", "t2", "t5"]),
    ({"sort_by": "ttl", "sort_order": "desc"}, ["t5", "t2", "t4", "t6", "t1", "t3"]),
    ({}, ["t6", "t5", "t4", "t3", "t2", "t1"]),
    ({"sort_by": "ttl"}, ["t5", "t2", "t4", "t6", "t1", "t3"]),
    ({"sort_order": "asc"}, ["t1", "t2", "t3", "t4", "t5", "t6"]),
    ({"sort_by": "ttl", "sort_order": "asc", "page_size": 4, "current_page": 2}, ["t2", "t5"]),
    ({"sort_by": "ttl", "sort_order": "asc", "page_size": 4, "current_page": 3}, []),
]
FIXED_LINKS = [
    ({}, [("self", "currentPage=1&pageSize=25"), ("first", "currentPage=1&pageSize=25"),
          ("last", "currentPage=1&pageSize=25")]),
    ({"sort_by": "ttl", "page_size": 4}, [
        ("self", "sortBy=ttl&currentPage=1&pageSize=4"), ("first", "sortBy=ttl&currentPage=1&pageSize=4"),
        ("next", "sortBy=ttl&currentPage=2&pageSize=4"), ("last", "sortBy=ttl&currentPage=2&pageSize=4")]),
    ({"sort_order": "asc", "page_size": 4, "current_page": 2}, [
        ("self", "sortOrder=asc&currentPage=2&pageSize=4"), ("first", "sortOrder=asc&currentPage=1&pageSize=4"),
        ("previous", "sortOrder=asc&currentPage=1&pageSize=4"), ("last", "sortOrder=asc&currentPage=2&pageSize=4")]),
    ({"sort_by": "createdAt", "sort_order": "desc", "page_size": 2, "current_page": 2}, [
        ("self", "sortBy=createdAt&sortOrder=desc&currentPage=2&pageSize=2"),
        ("first", "sortBy=createdAt&sortOrder=desc&currentPage=1&pageSize=2"),
        ("previous", "sortBy=createdAt&sortOrder=desc&currentPage=1&pageSize=2"),
        ("next", "sortBy=createdAt&sortOrder=desc&currentPage=3&pageSize=2"),
        ("last", "sortBy=createdAt&sortOrder=desc&currentPage=3&pageSize=2")]),
    ({"page_size": 4, "current_page": 7}, [
        ("self", "currentPage=7&pageSize=4"), ("first", "currentPage=1&pageSize=4"),
        ("previous", "currentPage=6&pageSize=4"), ("last", "currentPage=2&pageSize=4")]),
]


def fixed_listing(api):
    empty_project(api)
    made = []
    for ttl in FIXED_TTLS:
        t = api.create_token(TokenCreationPayload(ttl=ttl))
        if made:
            check(t.created_at > made[-1].created_at, "each token in a later second")
        made.append(t)
        # The next one in a second of its own (same clock as the worker's).
        time.sleep(max(0.0, t.created_at.timestamp() + 1.005 - time.time()))
    label = {t.token: f"t{i + 1}" for i, t in enumerate(made)}
    for args, want in FIXED_ORDERS:
        page = api.list(**args)
        equal([label[t.token] for t in page.data], want, f"fixed table {args}: order")
        equal(page.pagination.items_total, 6, f"fixed table {args}: itemsTotal")
    for args, want in FIXED_LINKS:
        page = api.list(**args)
        got = [(l.rel, l.uri) for l in page.pagination.links]
        equal(got, [(rel, "/upload-tokens?" + q) for rel, q in want], f"fixed table {args}: links")
    first = api.list(sort_by="ttl", sort_order="asc", page_size=1).data[0]
    equal(key_of(first), key_of(made[2]), "fixed table: t3 first by ttl, as created")


def main(argv):
    base, key, list_key, wrong_key = argv
    equal(apivideo.__version__, "1.4.7", "client version")
    started = time.time()

    # A wrong key: /auth/api-key refuses it, and connect() raises.
    wrong = connected_client(base, wrong_key)
    _, problem = api_error(wrong.connect, 400, "connect with a wrong key")
    equal(problem.get("type"), PROBLEM + "authentication-invalid-user-credentials", "wrong key: problem.type")
    check(wrong._access_token is None, "no access token is kept after a refused connect")

    client = connected_client(base, key)
    lister = connected_client(base, list_key)
    with client, lister:
        equal(client.token_type, "Bearer", "token_type")
        check(client._access_token and client._refresh_token, "connect() stored both tokens")
        first_tokens = (client._access_token, lister._access_token)
        api = UploadTokensApi(client)
        crud_tokens = crud(api, client)
        bad_ttl(api, client)
        list_api = UploadTokensApi(lister)
        fixed_listing(list_api)
        listed, list_calls = listing(list_api)

        # Projects are isolated: the listing project sees nothing of the first one.
        other = crud_tokens[0]
        api_error(lambda: list_api.get_token(other.token), 404, "get of another project's token", NotFoundException)
        api_error(lambda: list_api.delete_token(other.token), 404, "delete of another project's token", NotFoundException)
        equal(key_of(api.get_token(other.token)), key_of(other), "the owner still has it")

        # Delete one listed token: it leaves the walk.
        list_api.delete_token(listed[4].token)
        pages = walk(list_api, sort_by="ttl", sort_order="asc", page_size=10)
        left = [t.token for p in pages for t in p.data]
        equal(len(left), LIST_COUNT - 1, "one fewer after delete")
        check(listed[4].token not in left, "the deleted token is not listed")
        # Whether the clients' background refresh already ran during the scenario (timing
        # dependent, reported only; refresh.py checks the refresh itself).
        refreshed = sum(c._access_token != first for c, first in ((client, first_tokens[0]), (lister, first_tokens[1])))

    return {"list_calls": list_calls, "seconds": round(time.time() - started, 1), "clients_refreshed": refreshed}


if __name__ == "__main__":
    run(main)
