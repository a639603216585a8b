"""Reads of the audit log that `workers.shared.audit` writes.

The log is three lists of JSON entries, newest first: every entry, one per target user and
one per room, each trimmed to `workers.shared.AUDIT_MAX` entries. A query reads the
narrowest list that its filters allow.
"""

import json
from collections.abc import AsyncIterator
from contextlib import aclosing

from bus.codes import Code, CommandError
from state import keys
from workers.moderation.requests import AuditQuery, decode
from workers.runtime import WorkerContext

READ_CHUNK = 500  # entries read from Valkey per round trip
# Entries carry the clock of the worker that wrote them, and workers' clocks can differ, so
# a scan goes on this far past the first entry older than `since`.
CLOCK_SLACK_MS = 5_000


def parse_cursor(cursor: str) -> tuple[int, int]:
    """Split a `<ts>:<count>` cursor: the last page ended after `count` entries of time `ts`."""
    ts, _, count = cursor.partition(":")
    if not ts.isdigit() or not count.isdigit():
        raise CommandError(Code.INVALID_COMMAND,
                           f"invalid cursor {cursor!r}: pass the cursor of the previous page")
    return int(ts), int(count)


class AuditLog:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    async def _read(self, source: str) -> AsyncIterator[dict]:
        """Yield the entries of the list `source`, newest first."""
        start = 0
        while True:
            chunk = await self.ctx.redis.lrange(source, start, start + READ_CHUNK - 1)
            if not chunk:
                return
            start += len(chunk)
            for text in chunk:
                yield json.loads(text)

    async def query(self, data: bytes) -> dict:
        """Return `entries` newest first, and a `cursor` when older matching entries remain."""
        query = decode(data, AuditQuery)
        if query.room:
            source = keys.RoomKeys(query.room).audit
        elif query.uid:
            source = keys.UserKeys(query.uid).audit
        else:
            source = keys.AUDIT_ALL
        before = parse_cursor(query.cursor) if query.cursor else None

        entries: list[dict] = []
        seen_at_cursor = 0  # entries of the cursor's ts passed so far
        more = False
        async with aclosing(self._read(source)) as stored:
            async for entry in stored:
                ts = int(entry.get("ts", 0))
                if ts < query.since - CLOCK_SLACK_MS:
                    break
                if ts < query.since:
                    continue
                if query.uid and entry.get("target") != query.uid:
                    continue
                if before is not None:
                    # NOTE: this assumes the list is in time order. An entry written by a
                    # worker whose clock runs behind can be left out of a later page.
                    if ts > before[0]:
                        continue
                    if ts == before[0] and seen_at_cursor < before[1]:
                        seen_at_cursor += 1
                        continue
                if len(entries) == query.limit:
                    more = True
                    break
                entries.append(entry)

        result: dict = {"entries": entries}
        if more:
            last_ts = int(entries[-1]["ts"])
            count = sum(1 for entry in entries if int(entry["ts"]) == last_ts)
            if before is not None and before[0] == last_ts:
                count += before[1]
            result["cursor"] = f"{last_ts}:{count}"
        return result
