"""The Valkey client of a worker process."""

import asyncio
import logging

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from state.scripts import Scripts

log = logging.getLogger("mimo.state")

MAX_CONNECTIONS = 64  # Valkey connections per worker process
POOL_TIMEOUT = 5.0  # seconds a request waits for a free connection before it fails


async def connect(url: str, attempts: int = 60) -> tuple[Redis, Scripts]:
    """Connect to Valkey, retrying while it starts, and register the scripts."""
    # A blocking pool makes a burst of requests wait for a connection instead of failing
    # with "too many connections" once the pool is exhausted.
    pool = BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=POOL_TIMEOUT, decode_responses=True,
        health_check_interval=10,
    )
    redis = Redis(connection_pool=pool)
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
