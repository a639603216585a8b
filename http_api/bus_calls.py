"""Requests from route handlers to the workers over NATS."""

import logging

import nats.errors
from litestar import Request
from nats.aio.client import Client

from bus.codes import Code, CommandError
from bus.connection import call
from bus.subjects import is_valid_id
from http_api.errors import ApiError, invalid, unavailable
from mimo.settings import Settings

log = logging.getLogger("mimo.api")


def nats_client(request: Request) -> Client:
    return request.app.state.nc


async def ask(request: Request, subject: str, payload: object) -> dict:
    """Send `payload` to the worker queue group on `subject` and return the reply's data.

    A reply with a protocol code raises `CommandError`; a worker that failed (-1) is a 500;
    no worker answering in time, or NATS being unreachable, is a 503.
    """
    settings: Settings = request.app.state.settings
    try:
        reply = await call(nats_client(request), subject, payload, settings.request_timeout)
    except CommandError as error:
        raise unavailable(error.message) from None
    except (nats.errors.Error, OSError) as error:
        log.warning("bus request failed subject=%s: %s", subject, error)
        raise unavailable(f"request to {subject} failed: NATS is not reachable") from None
    if reply.code == Code.INTERNAL:
        raise ApiError(500, Code.INTERNAL, f"{subject} failed: {reply.error or 'internal error'}")
    if reply.code != Code.OK:
        try:
            code = Code(reply.code)
        except ValueError:
            raise ApiError(500, Code.INTERNAL,
                           f"{subject} returned unknown code {reply.code}: {reply.error}") from None
        raise CommandError(code, reply.error)
    return reply.data


def check_id(value: str, what: str) -> str:
    """Return a user or room id from the path, or raise 400 with code 4003."""
    if not is_valid_id(value):
        raise invalid(f"invalid {what} {value!r}: expected 1 to 64 of A-Z a-z 0-9 _ -")
    return value
