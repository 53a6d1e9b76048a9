"""The cache below the stacks: with nothing listening where it should be, every operation acts as a
miss or does nothing, at once, and the outage is one log line (Valkey itself: test_proxy_stack.py)."""

import logging
import socket
import time

import pytest

from dockerable.runtime import cache


@pytest.fixture
def unreachable(monkeypatch, tmp_path):
    """A ResilientRedisCache at a port nothing listens on, marking its outages in tmp_path."""
    monkeypatch.setattr(cache, "DOWN_MARKER", str(tmp_path / "down"))
    monkeypatch.setattr(cache.ResilientRedisCache, "retry_at", 0.0)
    monkeypatch.setattr(cache.ResilientRedisCache, "failing", False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = cache.cache_settings(f"redis://127.0.0.1:{port}/0")["default"]
    return cache.ResilientRedisCache(settings["LOCATION"], {"OPTIONS": settings["OPTIONS"]})


def test_an_unreachable_cache_misses_writes_nothing_and_says_so_once(unreachable, caplog):
    caplog.set_level(logging.WARNING, logger="dockerable.cache")
    started = time.monotonic()
    assert unreachable.get("key") is None
    assert unreachable.get("key", "fallback") == "fallback"
    assert unreachable.get_or_set("key", lambda: "made") == "made"
    assert unreachable.set("key", 1) is None and unreachable.delete("key") is False
    assert unreachable.get_many(["a", "b"]) == {} and unreachable.add("key", 1) is False
    assert time.monotonic() - started < 1  # tried once, then left alone for RETRY_AFTER
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1 and messages[0].startswith("the cache does not answer"), messages
    with pytest.raises(cache.FAILURES):
        unreachable.incr("counter")  # no right answer to return
