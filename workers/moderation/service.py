"""The moderation worker's routes: room and platform moderation, block lists, rate policy
and the audit log. Every change is written to the audit log with its actor and reason."""

from bus import subjects
from workers.moderation.audit_log import AuditLog
from workers.moderation.blocks import BlockLists
from workers.moderation.platform import PlatformModeration
from workers.moderation.rooms import RoomModeration
from workers.runtime import WorkerContext


async def setup(ctx: WorkerContext) -> None:
    rooms = RoomModeration(ctx)
    ctx.service.route(subjects.MOD_ROOM_MUTE, rooms.mute)
    ctx.service.route(subjects.MOD_ROOM_UNMUTE, rooms.unmute)
    ctx.service.route(subjects.MOD_ROOM_KICK, rooms.kick)
    ctx.service.route(subjects.MOD_ROOM_UNBAN, rooms.unban)
    ctx.service.route(subjects.MOD_ROOM_MUTE_ALL, rooms.mute_all)
    ctx.service.route(subjects.MOD_ROOM_RATE, rooms.rate)

    platform = PlatformModeration(ctx)
    ctx.service.route(subjects.MOD_USER_MUTE, platform.mute)
    ctx.service.route(subjects.MOD_USER_UNMUTE, platform.unmute)
    ctx.service.route(subjects.MOD_USER_BAN, platform.ban)
    ctx.service.route(subjects.MOD_USER_UNBAN, platform.unban)
    ctx.service.route(subjects.MOD_USER_STATE, platform.state)

    blocks = BlockLists(ctx)
    ctx.service.route(subjects.MOD_BLOCK, blocks.block)
    ctx.service.route(subjects.MOD_UNBLOCK, blocks.unblock)
    ctx.service.route(subjects.MOD_BLOCKS, blocks.page)
    ctx.service.route(subjects.MOD_BLOCK_STATUS, blocks.status)

    ctx.service.route(subjects.MOD_AUDIT, AuditLog(ctx).query)
