"""The two JetStream streams, created or updated idempotently at worker start.

No per-user or per-room consumer is ever created: one stream holds every inbox (a subject
per user), one holds every room's history (a subject per room), and reads filter by subject.
"""

import logging

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    RePublish,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from bus import subjects
from mimo.settings import Settings

log = logging.getLogger("mimo.streams")


def inbox_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=subjects.INBOX_STREAM,
        subjects=[subjects.INBOX_STREAM_SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_msgs_per_subject=settings.inbox_max_per_user,
        # A full inbox rejects new messages (4005) instead of dropping pending ones.
        discard=DiscardPolicy.NEW,
        discard_new_per_subject=True,
        max_age=settings.inbox_max_age,
        duplicate_window=settings.dedup_window,
        allow_direct=True,
        republish=RePublish(src=subjects.INBOX_LIVE_SOURCE, dest=subjects.INBOX_LIVE_DEST),
    )


def history_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=subjects.ROOM_HISTORY_STREAM,
        subjects=[subjects.ROOM_HISTORY_SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_msgs_per_subject=settings.history_max_per_room,
        discard=DiscardPolicy.OLD,
        max_age=settings.history_max_age,
        duplicate_window=settings.dedup_window,
        allow_direct=True,
    )


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    for config in (inbox_config(settings), history_config(settings)):
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
            log.info("stream created name=%s", config.name)
            continue
        await js.update_stream(config)
