"""Block lists for now; room and platform moderation build on the same request loop."""

import msgspec

from bus import subjects
from bus.codes import Code, CommandError
from bus.commands import Block, Blocks, Unblock
from bus.types import Request, request_decoder
from state import keys
from workers.runtime import WorkerContext, now_ms


class ModerationService:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    async def _request(self, data: bytes, kind: type) -> Request:
        request = request_decoder.decode(data)
        if not isinstance(request.cmd, kind):
            raise CommandError(Code.INVALID_COMMAND, f"expected {kind.__name__} on this subject")
        if request.actor.uid is None:
            raise CommandError(Code.INVALID_COMMAND, "this command needs a user")
        await self.ctx.count_command(request.actor)
        return request

    async def block(self, data: bytes) -> dict:
        request = await self._request(data, Block)
        target = request.cmd.uid  # type: ignore[union-attr]
        if target == request.actor.uid:
            raise CommandError(Code.INVALID_COMMAND, "a user cannot block themselves")
        await self.ctx.redis.zadd(keys.UserKeys(request.actor.uid or "").blocks,
                                  {target: now_ms()})
        return {"uid": target}

    async def unblock(self, data: bytes) -> dict:
        request = await self._request(data, Unblock)
        target = request.cmd.uid  # type: ignore[union-attr]
        await self.ctx.redis.zrem(keys.UserKeys(request.actor.uid or "").blocks, target)
        return {"uid": target}

    async def blocks(self, data: bytes) -> dict:
        request = await self._request(data, Blocks)
        cmd: Blocks = request.cmd  # type: ignore[assignment]
        start = int(cmd.cursor) if cmd.cursor and cmd.cursor.isdigit() else 0
        key = keys.UserKeys(request.actor.uid or "").blocks
        uids = await self.ctx.redis.zrange(key, start, start + cmd.limit - 1)
        result: dict = {"uids": uids}
        if len(uids) == cmd.limit and await self.ctx.redis.zcard(key) > start + cmd.limit:
            result["cursor"] = str(start + cmd.limit)
        return result


async def setup(ctx: WorkerContext) -> None:
    service = ModerationService(ctx)
    ctx.service.route(subjects.MOD_BLOCK, service.block)
    ctx.service.route(subjects.MOD_UNBLOCK, service.unblock)
    ctx.service.route(subjects.MOD_BLOCKS, service.blocks)


_ = msgspec
