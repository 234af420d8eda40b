"""Deployment settings, read from the environment `template.yaml` sets for every function,
and checked once per container at INIT (`http.endpoint` loads them at import): a function
deployed without TABLE_NAME, or with a TIME_ZONE that is not an IANA name, fails its cold
start with a message that says so, instead of answering 500 to its first request."""

import os
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from coupons import containers

DEFAULT_PUBLIC_BASE_URL = "https://coupons.example.com"


class SettingsError(RuntimeError):
    """The function's environment is missing or has a wrong setting."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    time_zone: ZoneInfo
    public_base_url: str
    account_requests_per_minute: int  # 0: no limit (limits.py)
    # Webhooks (DESIGN 2.9): http to 127.0.0.1/localhost allowed (the dev stack only); the
    # queue the events function fills and the sender reads ("" in the API's functions).
    webhook_allow_local: bool = False
    webhook_queue_url: str = ""


def load() -> Settings:
    table_name = os.environ.get("TABLE_NAME", "")
    if not table_name:
        raise SettingsError("TABLE_NAME is not set: the function does not know its table")
    zone = os.environ.get("TIME_ZONE") or "UTC"
    try:
        time_zone = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"TIME_ZONE {zone!r} is not an IANA time zone name") from None
    base_url = os.environ.get("PUBLIC_BASE_URL") or DEFAULT_PUBLIC_BASE_URL
    per_minute = os.environ.get("ACCOUNT_REQUESTS_PER_MINUTE") or "0"
    if not (per_minute.isascii() and per_minute.isdigit()):
        raise SettingsError(f"ACCOUNT_REQUESTS_PER_MINUTE {per_minute!r} is not a whole number")
    return Settings(
        table_name=table_name,
        time_zone=time_zone,
        public_base_url=base_url,
        account_requests_per_minute=int(per_minute),
        webhook_allow_local=os.environ.get("WEBHOOK_ALLOW_LOCAL", "false") == "true",
        webhook_queue_url=os.environ.get("WEBHOOK_QUEUE_URL", ""),
    )


@cache
def current() -> Settings:
    """This container's settings (loaded on first use; `http.endpoint` does that at INIT)."""
    return load()


containers.on_reset(current.cache_clear)
