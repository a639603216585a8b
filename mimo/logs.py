"""Logging set-up shared by every process, and a limiter for repeated messages."""

import logging
import time


def setup(level: str, process: str) -> None:
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s %(levelname)s {process} %(name)s: %(message)s",
    )


class RateLimitedLog:
    """Log a repeated event at most once per `interval` seconds, with the count suppressed."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        suppressed = self._suppressed.pop(key, 0)
        self._last[key] = now
        if suppressed:
            message += f" ({suppressed} more since the last report)"
        self._logger.log(level, message, *args)
