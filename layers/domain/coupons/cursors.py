"""Opaque pagination cursors.

A cursor is the position to continue after, signed (HMAC-SHA256) with the account's cursor
key and bound to a scope naming the route, the account and the filters. A cursor that was
altered, or comes from another account, route, coupon or filter, fails the check and is
400/4001; its position is never used to build a key outside the caller's own partition.
"""

import base64
import hashlib
import hmac
import json

from coupons import containers
from coupons.errors import CouponError, Reason, invalid_field
from coupons.store import accounts

MAX_CURSOR_LENGTH = 1024
_TAG_BYTES = 16
_secrets: dict[str, bytes] = {}
containers.on_reset(_secrets.clear)


def secret(account: str) -> bytes:
    """The account's cursor key (never changes, so each container reads it once)."""
    known = _secrets.get(account)
    if known is None:
        record = accounts.get_account(account, consistent=False)
        if record is None or not record.get("cursorKey"):
            raise RuntimeError(f"account {account} has no cursor key (coupon-admin sets it)")
        known = _secrets[account] = bytes.fromhex(record["cursorKey"])
    return known


def encode(secret: bytes, scope: str, position: list[str]) -> str:
    payload = json.dumps(position, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_tag(secret, scope, payload))}"


def decode(secret: bytes, scope: str, cursor: object, size: int) -> list[str]:
    """The position in `cursor` (a list of `size` strings), or 4001."""
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH:
        raise _invalid()
    payload_text, _, tag_text = cursor.partition(".")
    try:
        payload = _unb64(payload_text)
        tag = _unb64(tag_text)
    except ValueError:
        raise _invalid() from None
    if not hmac.compare_digest(tag, _tag(secret, scope, payload)):
        raise _invalid()
    position = json.loads(payload)
    if not (
        isinstance(position, list)
        and len(position) == size
        and all(isinstance(part, str) for part in position)
    ):
        raise _invalid()  # signed by us, so only an older cursor format could get here
    return position


def _tag(secret: bytes, scope: str, payload: bytes) -> bytes:
    message = scope.encode() + b"\n" + payload
    return hmac.new(secret, message, hashlib.sha256).digest()[:_TAG_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or not text.isascii():
        raise ValueError("empty")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid() -> CouponError:
    return invalid_field("cursor", Reason.NOT_A_CURSOR)
