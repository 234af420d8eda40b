"""The one clock of the layer: every stored time and every "today" comes from here, so a test
that moves `now_ms` moves everything."""

import time
from datetime import date, datetime

from coupons import settings


def now_ms() -> int:
    """Milliseconds since the epoch: every stored timestamp."""
    return time.time_ns() // 1_000_000


def now() -> datetime:
    """Now in the deployment's time zone."""
    return datetime.fromtimestamp(now_ms() / 1000, settings.current().time_zone)


def today() -> date:
    """Today in the deployment's time zone (coupon dates are inclusive local days)."""
    return now().date()


def local_time(ms: int) -> str:
    """YYYY-MM-DD HH:MM:SS in the deployment's time zone."""
    return datetime.fromtimestamp(ms / 1000, settings.current().time_zone).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
