"""A coupon page's token: which coupon (account and code) and the coupon's page key, which
only someone given the page knows. The key is drawn at random when the coupon is created, so a
token can't be made from the code and account, stays the same for the coupon's life, and dies
with it (a re-created code gets a new key). A coupon stored before page keys existed uses its
instance id (`cid`: 48 random bits after the time) as its key."""

import base64
import binascii
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any, NamedTuple

KEY_BYTES = 16  # 128 bits
_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class PageToken(NamedTuple):
    account: str
    cpn_no: str
    key: str


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def page_key(coupon: Mapping[str, Any]) -> str:
    return str(coupon.get("pageKey") or coupon["cid"])


def encode(account: str, cpn_no: str, key: str) -> str:
    raw = f"{account}.{cpn_no}.{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> PageToken | None:
    """The token's parts, or None for anything that is not a token we could have made."""
    if not _TOKEN.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    parts = raw.split(".")
    if len(parts) != 3 or not all(_PART.fullmatch(part) for part in parts):  # noqa: PLR2004
        return None
    return PageToken(*parts)


def opens(token: PageToken, coupon: Mapping[str, Any]) -> bool:
    """Whether the token is this coupon's (compared in constant time)."""
    return hmac.compare_digest(token.key.encode(), page_key(coupon).encode())


def page_url(domain: str, account: str, coupon: Mapping[str, Any]) -> str:
    return f"{domain.rstrip('/')}/c/{encode(account, coupon['cpnNo'], page_key(coupon))}"
