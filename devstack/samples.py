"""A sample coupon for local tools and tests: the body of a valid create request."""

from datetime import date
from typing import Any


def coupon_fields(**overrides: Any) -> dict[str, Any]:
    """A valid $5-off single-use coupon running from today to the end of next year."""
    today = date.today()
    return {
        "nm": "$5 discount coupon",
        "discTypeIdx": 458,
        "disc": 5,
        "discCurrency": "USD",
        "strtYmd": today.isoformat(),
        "endYmd": date(today.year + 1, 12, 31).isoformat(),
        "useLimit": 1,
        **overrides,
    }
