"""The Valkey client of a worker process."""

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from state.scripts import Scripts

log = logging.getLogger("mimo.state")


async def connect(url: str, attempts: int = 60) -> tuple[Redis, Scripts]:
    """Connect to Valkey, retrying while it starts, and register the scripts."""
    redis = Redis.from_url(url, decode_responses=True, health_check_interval=10)
    for attempt in range(1, attempts + 1):
        try:
            await redis.ping()
            break
        except (RedisConnectionError, OSError) as exc:
            if attempt == attempts:
                raise
            log.info("valkey not reachable yet url=%s attempt=%d: %s", url, attempt, exc)
            await asyncio.sleep(0.5)
    return redis, Scripts(redis)
