"""What a warm Lambda container remembers between requests, and the one way to forget it.

Each per-container cache (the DynamoDB client, settings, API keys, what was last seen of a
coupon, cursor keys) registers how to clear itself here when its module is imported; tests
call `reset()` to stand in for a new container instead of reaching into module state."""

from collections.abc import Callable

_clearers: list[Callable[[], None]] = []


def on_reset(clear: Callable[[], None]) -> None:
    """Register how to forget one cache (called once, at a module's import)."""
    _clearers.append(clear)


def reset() -> None:
    """Forget everything a warm container remembers, as a fresh container would start."""
    for clear in _clearers:
        clear()
