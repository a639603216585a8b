"""Client tokens: HS256 JWTs whose `sub` is the user id.

Tokens issued here carry a fractional `iat` (ms precision), so a token issued right after a
revocation is newer than the revocation time and works.
"""

import hashlib
import secrets
import time
from typing import Any

import jwt

from bus.subjects import is_valid_id

ALGORITHM = "HS256"


class InvalidToken(ValueError):
    """A token that is malformed, badly signed, expired, not yet valid or of another kind."""


def issue(uid: str, secret: str, ttl: int) -> str:
    if not is_valid_id(uid):
        raise ValueError(f"invalid user id {uid!r}: expected 1 to 64 of A-Z a-z 0-9 _ -")
    now = round(time.time(), 3)
    claims = {"sub": uid, "iat": now, "exp": int(now) + ttl, "jti": secrets.token_hex(8)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(token: str, secret: str, leeway: float) -> dict[str, Any]:
    """Return the claims of a valid token, or raise `InvalidToken` naming what is wrong."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken(f"malformed token: {error}") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"token algorithm {header.get('alg')!r} is not allowed: use HS256")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=leeway,
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token has expired") from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken("token is not valid yet (nbf or iat in the future)") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("token signature is invalid") from None
    except jwt.PyJWTError as error:
        raise InvalidToken(f"invalid token: {error}") from None
    if not is_valid_id(claims["sub"]):
        raise InvalidToken("token sub is not a valid user id")
    if not isinstance(claims["iat"], int | float):
        raise InvalidToken("token iat must be a number")
    return claims


def fingerprint(token: str) -> str:
    """Return a short, non-reversible id of a token, safe to log and to store."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]
