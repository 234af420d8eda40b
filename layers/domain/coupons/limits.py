"""Fair use between tenants: each account may make at most ACCOUNT_REQUESTS_PER_MINUTE requests
a minute, across all the containers of all its functions (a stack parameter; 0: no limit).
Beyond that, 429/4290 with Retry-After (the seconds left in the minute), in our envelope, and
nothing is read or written for the request.

The count lives in DynamoDB, one item per account and minute, and each container leases a
chunk of it (LEASE_SHARE of the limit, at most MAX_LEASE requests) with one UpdateItem, then
spends it locally: under load, one extra write per MAX_LEASE requests; a container serving
an account once a minute pays one write a minute. What a container leased and did not spend
is lost when the minute ends, so under many containers an account may be refused somewhat
before its full limit, never after it.
"""

import threading

from coupons import clock, containers, settings
from coupons.errors import CouponError, ErrorCode
from coupons.store import budgets

MAX_LEASE = 50
LEASE_SHARE = 20  # a lease is at most 1/20 of the limit, so few containers can share it
_leases: dict[str, tuple[int, int]] = {}  # account -> (minute, requests left in the lease)
_LEASES_LIMIT = 10_000
_lock = threading.Lock()  # the local gateway serves requests of one container on threads
containers.on_reset(_leases.clear)


def admit(account: str) -> None:
    """Let one more request of the account through, or 429/4290."""
    limit = settings.current().account_requests_per_minute
    if limit <= 0:
        return
    now = clock.now_ms()
    minute = now // 60_000
    with _lock:
        held_minute, left = _leases.get(account, (minute, 0))
        if held_minute == minute and left > 0:
            _leases[account] = (minute, left - 1)
            return
    granted = budgets.lease(account, minute, max(1, min(MAX_LEASE, limit // LEASE_SHARE)), limit)
    if granted <= 0:
        seconds_left = 60 - (now // 1000) % 60
        raise CouponError(ErrorCode.TOO_MANY_REQUESTS, retry_after=seconds_left)
    with _lock:
        if len(_leases) >= _LEASES_LIMIT:
            _leases.clear()
        _leases[account] = (minute, granted - 1)
