"""API key authentication: `Authorization: Bearer KEY` with a key from MIMO_API_KEYS."""

import hashlib
import hmac

from litestar import Request

from bus.codes import Code
from http_api.errors import ApiError
from mimo.settings import Settings


def key_label(key: str) -> str:
    """The audit actor of a REST call: `api:` and the first 8 hex digits of the key's SHA-256."""
    return "api:" + hashlib.sha256(key.encode()).hexdigest()[:8]


def authenticate(request: Request) -> str:
    """Return the audit label of the request's API key, or raise a 401 with code 1000.

    Every configured key is compared in constant time, so the time taken does not reveal
    which key, or how much of one, matched. The key itself is never logged.
    """
    settings: Settings = request.app.state.settings
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    matched: str | None = None
    if scheme.lower() == "bearer" and key:
        for candidate in settings.api_keys:
            if hmac.compare_digest(candidate.encode(), key.encode()):
                matched = candidate
    if matched is None:
        raise ApiError(401, Code.AUTH_FAILED, "missing or invalid API key: send "
                       "'Authorization: Bearer KEY' with a key from MIMO_API_KEYS")
    return key_label(matched)
