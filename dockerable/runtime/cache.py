"""The cache (docs/cache.md): Valkey through Django's own RedisCache where the stack runs one
(CACHE_URL), local memory where none does; an outage of Valkey costs speed, never a page."""

import contextlib
import logging
import os
import time

import redis
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger("dockerable.cache")

# Seconds a request waits for the cache before it goes on without it.
TIMEOUT = 0.25
# Seconds a cache that failed is left alone: meanwhile requests go uncached, at once.
RETRY_AFTER = 5
# Says "the cache is down" to every process of this container (uWSGI's workers share /tmp): the
# process that makes it logs the outage, the one that removes it logs the end, once each.
DOWN_MARKER = "/tmp/dockerable-cache-down"  # noqa: S108
FAILURES = (redis.exceptions.RedisError, OSError)
# Each operation, and what it returns when the cache does not answer: a miss, or nothing done.
FALLBACKS = {
    "add": False,
    "get": None,
    "set": None,
    "touch": False,
    "delete": False,
    "get_many": {},
    "has_key": False,
    "set_many": [],
    "delete_many": None,
    "clear": False,
}


def cache_settings(url: str) -> dict:
    """CACHES for a stack's Valkey at `url` (redis://HOST:PORT/DB), or local memory without one."""
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "dockerable.runtime.cache.ResilientRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": TIMEOUT, "socket_timeout": TIMEOUT},
        }
    }


def _marked_down() -> bool:
    """Mark the outage; True for the process that made the mark."""
    try:
        os.close(os.open(DOWN_MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


def _marked_up() -> bool:
    """Clear the mark; True for the process that cleared it."""
    try:
        os.unlink(DOWN_MARKER)
    except FileNotFoundError:
        return False
    return True


class ResilientRedisCache(RedisCache):
    """RedisCache that, when Valkey does not answer, reads as a miss and writes nothing: the page is
    made without the cache. One log line when the outage starts and one when it ends, per container."""

    retry_at = 0.0
    failing = False

    def _guarded(self, operation: str, *args, **kwargs):
        if operation == "get":
            fallback = args[1] if len(args) > 1 else kwargs.get("default")
        else:
            fallback = FALLBACKS[operation]
        if time.monotonic() < self.retry_at:
            return fallback
        try:
            result = getattr(super(), operation)(*args, **kwargs)
        except FAILURES as exc:
            type(self).retry_at = time.monotonic() + RETRY_AFTER
            type(self).failing = True
            if _marked_down():
                logger.error("the cache does not answer, pages are made without it until it does: %s", exc)
            return fallback
        if self.failing:
            type(self).failing = False
            if _marked_up():
                # What was written meanwhile was not invalidated in the cache: start it afresh.
                with contextlib.suppress(*FAILURES):
                    super().clear()
                logger.warning("the cache answers again (emptied: writes meanwhile could not invalidate it)")
        return result


def _guard(operation: str):
    def guarded(self, *args, **kwargs):
        return self._guarded(operation, *args, **kwargs)  # pylint: disable=protected-access

    guarded.__name__ = guarded.__qualname__ = operation
    return guarded


# Each operation of FALLBACKS, through _guarded (incr and decr raise: no answer would be right).
for _operation in FALLBACKS:
    setattr(ResilientRedisCache, _operation, _guard(_operation))
