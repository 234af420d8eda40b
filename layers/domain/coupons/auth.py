"""API-key authentication. Keys are stored only as SHA-256 hashes; each belongs to one account.

A small per-container cache saves the key lookup on warm invocations; a revoked key stops
working within CACHE_SECONDS (one GetItem per key and container every 5 s at most: nothing
next to a redemption's write). Keys that fail are remembered too, apart (so a flood of bad
keys can neither evict the good ones nor cost a read each time it repeats one): a key created
after a container refused it works there within REFUSED_SECONDS.
"""

import hashlib
import secrets
import time

from coupons import containers
from coupons.errors import CouponError, ErrorCode
from coupons.store import accounts

SCHEME = "apikey"
MAX_KEY_LENGTH = 256
CACHE_SECONDS = 5.0
REFUSED_SECONDS = 10.0
CACHE_LIMIT = 1024
_cache: dict[str, tuple[str, float]] = {}
_refused: dict[str, float] = {}
containers.on_reset(_cache.clear)
containers.on_reset(_refused.clear)


def new_api_key() -> str:
    """A fresh key: 32 random bytes, URL-safe. Shown once; only its hash is stored."""
    return secrets.token_urlsafe(32)


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def key_id(hashed: str) -> str:
    """A short public handle for a key (a prefix of its hash), for listing and revoking."""
    return hashed[:12]


def authenticate(authorization: str | None) -> str:
    """The account owning the `Authorization: APIKey <key>` header, or 401/4010."""
    scheme, _, api_key = (authorization or "").strip().partition(" ")
    api_key = api_key.strip()
    if scheme.lower() != SCHEME or not api_key or len(api_key) > MAX_KEY_LENGTH:
        raise CouponError(ErrorCode.UNAUTHORIZED)
    hashed = key_hash(api_key)
    now = time.monotonic()
    cached = _cache.get(hashed)
    if cached and cached[1] > now:
        return cached[0]
    if _refused.get(hashed, 0.0) > now:
        raise CouponError(ErrorCode.UNAUTHORIZED)
    record = accounts.get_api_key(hashed)
    if record is None or record["revoked"]:
        _cache.pop(hashed, None)
        _remember(_refused, hashed, now + REFUSED_SECONDS)
        raise CouponError(ErrorCode.UNAUTHORIZED)
    _remember(_cache, hashed, (record["account"], now + CACHE_SECONDS))
    return record["account"]


def _remember[V](cache: dict[str, V], hashed: str, value: V) -> None:
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[hashed] = value
