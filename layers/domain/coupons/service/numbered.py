"""What templates and groups share (DESIGN 2.7): a listing in number order with signed cursors,
and a delete refused while something refers to the one deleted."""

from collections.abc import Callable, Sequence
from typing import Any

from coupons import cursors
from coupons.errors import CouponError, ErrorCode, Reason, invalid_field
from coupons.queries import PageQuery
from coupons.records import Page
from coupons.store import numbered

# What a missing reference is called in the 4001 naming its field.
_MISSING = {numbered.TEMPLATES: Reason.NO_SUCH_TEMPLATE, numbered.GROUPS: Reason.NO_SUCH_GROUP}


def listed[T](
    kind: numbered.Kind, account: str, query: PageQuery, shown: Callable[[Any], T]
) -> Page[T]:
    """The account's templates or groups in number order, a page at a time."""
    scope = f"{kind.partition}|{account}"
    after = None
    if query.cursor is not None:
        (position,) = cursors.decode(cursors.secret(account), scope, query.cursor, 1)
        after = int(position)
    items, more = numbered.page(kind, account, limit=query.limit, after=after)
    last = str(items[-1][kind.field]) if items and more else None
    return {
        "items": [shown(item) for item in items],
        "cursor": cursors.encode(cursors.secret(account), scope, [last]) if last else None,
    }


def deleted(
    kind: numbered.Kind,
    account: str,
    number: int,
    not_found: ErrorCode,
    refers_to: Sequence[numbered.Kind] = (),
) -> None:
    """Delete it, unless something refers to it (4093)."""
    try:
        found = numbered.delete(kind, account, number, refers_to=refers_to)
    except numbered.InUse:
        raise CouponError(ErrorCode.STILL_IN_USE) from None
    if not found:
        raise CouponError(not_found)


def refused_reference(missing: numbered.Missing) -> CouponError:
    """A reference to a group or template not of this account: 4001 naming the field."""
    return invalid_field(missing.kind.field, _MISSING[missing.kind])
