"""Deployment settings, read from the environment `template.yaml` sets for every function."""

import os
from zoneinfo import ZoneInfo


def table_name() -> str:
    return os.environ["TABLE_NAME"]


def time_zone() -> ZoneInfo:
    # ZoneInfo caches instances itself, so this stays cheap per request.
    return ZoneInfo(os.environ.get("TIME_ZONE") or "UTC")


def public_base_url() -> str:
    return os.environ.get("PUBLIC_BASE_URL") or "https://coupons.example.com"
