"""The table's stream -> webhook deliveries, queued (DESIGN 2.9)."""

from typing import Any

from coupons import settings
from coupons.service.webhooks import on_stream

settings.current()  # at INIT: a function deployed without its settings says so at once


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    return on_stream(event)
