"""Hooks of the schemathesis run of test/schemathesis.test.mjs.

/auth/api-key and /auth/refresh are limited per client address (CF-Connecting-IP). Every
request schemathesis makes to them is given an address of its own, so that the generated
requests reach the handlers instead of the limiter. The limiter's own 429 is covered by
test/openapi.test.mjs.
"""

import itertools

import schemathesis

_addresses = itertools.count(1)


@schemathesis.hook
def before_call(context, case, kwargs):
    if context.operation is not None and case.operation.path.startswith("/auth/"):
        n = next(_addresses)
        if case.headers is None:
            case.headers = {}
        case.headers["CF-Connecting-IP"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
