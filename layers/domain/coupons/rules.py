"""Coupon rules that are not field shapes: codes, dates, eligibility and refusal order."""

import re
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from coupons import config
from coupons.errors import ErrorCode, invalid_field

CODE_PATTERN = re.compile(r"^[A-Z0-9]{8,16}$")
# Generated codes avoid look-alikes: no 0/O and no 1/I.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTHS = (8, 12, 16)
PERCENT, FIXED_AMOUNT = 457, 458
UNLIMITED = 0
MAX_INDEX = 2**31 - 1  # grpIdx, tmplIdx


def normalize_code(raw: object, field: str = "cpnNo") -> str:
    """Strip spaces and dashes, upper-case, then require 8-16 letters or digits."""
    if not isinstance(raw, str) or not raw:
        raise invalid_field(field, "required, a string of 8-16 letters or digits")
    code = raw.replace(" ", "").replace("-", "").upper()
    if not CODE_PATTERN.match(code):
        raise invalid_field(field, "must be 8-16 letters or digits")
    return code


def generate_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def now() -> datetime:
    return datetime.now(config.time_zone())


def today() -> date:
    return now().date()


def latest_end_date(today: date) -> date:
    """Coupons may run until December 31 of the year after today."""
    return date(today.year + 1, 12, 31)


def remaining_uses(coupon: Mapping[str, Any]) -> int | None:
    if coupon["useLimit"] == UNLIMITED:
        return None
    return max(0, int(coupon["useLimit"]) - int(coupon["useCnt"]))


def refusal(
    coupon: Mapping[str, Any],
    today: date,
    *,
    user_id: str,
    onsite_pwd: str = "",
    redeeming: bool,
) -> ErrorCode | None:
    """The first rule the coupon fails for this request, in the contract's order.

    An empty `user_id` means the request names no user. Validate (`redeeming=False`) checks
    the user only when one is named and never the on-site password. The store's redeem
    condition expression encodes the same rules atomically; this function names the one
    that refused.
    """
    day = today.isoformat()
    if day < coupon["strtYmd"]:
        return ErrorCode.NOT_YET_VALID
    if day > coupon["endYmd"]:
        return ErrorCode.EXPIRED
    use_limit = int(coupon["useLimit"])
    if redeeming and use_limit >= 2 and not user_id:
        return ErrorCode.USER_REQUIRED
    if user_id and coupon["userId"] and user_id != coupon["userId"]:
        return ErrorCode.USER_MISMATCH
    if redeeming and coupon["onsitePwd"] and onsite_pwd != coupon["onsitePwd"]:
        return ErrorCode.ONSITE_PASSWORD
    if use_limit != UNLIMITED and int(coupon["useCnt"]) >= use_limit:
        return ErrorCode.USAGE_LIMIT_REACHED
    return None
