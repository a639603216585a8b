"""Block lists: a user's sorted set of blocked users, scored by the time of the block (ms).

The chat worker rejects a personal message with 4000 when the recipient's set contains the
sender. Pages follow (time, uid) order, and a cursor names the last entry returned, so an
unblock or a new block between two pages neither skips nor repeats an entry.
"""

from bus.codes import Code, CommandError
from bus.commands import Block, Blocks, Unblock
from bus.subjects import is_valid_id
from bus.types import Request
from state import keys
from workers.runtime import WorkerContext, now_ms
from workers.shared import decode_command

BLOCKS_MAX = 10_000  # blocked users per user


def parse_cursor(cursor: str) -> tuple[int, str]:
    """Split a `<ms>:<uid>` cursor, raising 4003 when it is not one."""
    score, _, uid = cursor.partition(":")
    if not score.isdigit() or not is_valid_id(uid):
        raise CommandError(Code.INVALID_COMMAND,
                           f"invalid cursor {cursor!r}: pass the cursor of the previous page")
    return int(score), uid


class BlockLists:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    async def _command(self, data: bytes, kind: type) -> tuple[Request, str]:
        """Decode a block-list request and count it; return it with the list owner's uid."""
        request = decode_command(data, kind)
        if request.actor.uid is None:
            raise CommandError(Code.INVALID_COMMAND,
                               "missing actor uid: a block-list command needs a user")
        await self.ctx.count_command(request.actor)
        return request, request.actor.uid

    async def block(self, data: bytes) -> dict:
        request, owner = await self._command(data, Block)
        target = request.cmd.uid  # type: ignore[union-attr]
        if target == owner:
            raise CommandError(Code.INVALID_COMMAND, "a user cannot block themselves")
        if not await self.ctx.redis.exists(keys.UserKeys(target).profile):
            raise CommandError(Code.USER_NOT_FOUND, f"user {target} does not exist")
        key = keys.UserKeys(owner).blocks
        # NOTE: the size check and the add are two steps, so concurrent blocks by one user
        # can pass BLOCKS_MAX by the number of requests in flight.
        if await self.ctx.redis.zcard(key) >= BLOCKS_MAX and \
                await self.ctx.redis.zscore(key, target) is None:
            raise CommandError(Code.INVALID_COMMAND,
                               f"user {owner} already blocks {BLOCKS_MAX} users: unblock some "
                               "first")
        # NX keeps the time of the first block, so a repeated block keeps its page position.
        await self.ctx.redis.zadd(key, {target: now_ms()}, nx=True)
        return {"uid": target}

    async def unblock(self, data: bytes) -> dict:
        request, owner = await self._command(data, Unblock)
        target = request.cmd.uid  # type: ignore[union-attr]
        removed = await self.ctx.redis.zrem(keys.UserKeys(owner).blocks, target)
        return {"uid": target, "removed": bool(removed)}

    async def status(self, data: bytes) -> dict:
        """Return whether the actor's user blocks `cmd.uid`, and since when (ms)."""
        request, owner = await self._command(data, Block)
        target = request.cmd.uid  # type: ignore[union-attr]
        since = await self.ctx.redis.zscore(keys.UserKeys(owner).blocks, target)
        result: dict = {"uid": owner, "other": target, "blocked": since is not None}
        if since is not None:
            result["since"] = int(since)
        return result

    async def page(self, data: bytes) -> dict:
        request, owner = await self._command(data, Blocks)
        cmd: Blocks = request.cmd  # type: ignore[assignment]
        key = keys.UserKeys(owner).blocks
        after = parse_cursor(cmd.cursor) if cmd.cursor else None

        # Read from the cursor's time on, skipping the entries of that same millisecond that
        # sort at or before the cursor's uid. One extra entry shows whether a page follows.
        entries: list[tuple[str, int]] = []
        offset = 0
        low: int | str = after[0] if after else "-inf"
        while len(entries) <= cmd.limit:
            batch = await self.ctx.redis.zrangebyscore(key, low, "+inf", start=offset,
                                                       num=cmd.limit + 1, withscores=True)
            if not batch:
                break
            offset += len(batch)
            for uid, score in batch:
                entry = (int(score), uid)
                if after is None or entry > after:
                    entries.append((uid, int(score)))

        page = entries[:cmd.limit]
        result: dict = {"uids": [uid for uid, _ in page]}
        if len(entries) > cmd.limit:
            last_uid, last_score = page[-1]
            result["cursor"] = f"{last_score}:{last_uid}"
        return result
