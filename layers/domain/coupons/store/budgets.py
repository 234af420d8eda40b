"""The account's request counters (limits.py): one item a minute, leased from in chunks."""

from coupons.store.client import ConditionFailed, request
from coupons.store.items import key, values
from coupons.store.keys import request_budget_pk

# A minute's counter is kept two minutes after it ends, then expires (TTL).
_KEEP_S = 180


def lease(account: str, minute: int, want: int, limit: int) -> int:
    """Take up to `want` of the account's `limit` requests of `minute`: how many were taken
    (0 when the minute's budget is spent). One UpdateItem, two when less than `want` is left."""
    for _ in range(2):
        try:
            _take(account, minute, want, limit)
        except ConditionFailed as failed:
            left = limit - int((failed.old or {}).get("used", 0))
            if left <= 0:
                return 0
            want = min(want, left)
            continue
        return want
    return 0


def _take(account: str, minute: int, want: int, limit: int) -> None:
    attrs = values(want=want, room=limit - want, expires=(minute + 1) * 60 + _KEEP_S)
    request(
        lambda db, table: db.update_item(
            TableName=table,
            Key=key(request_budget_pk(account), str(minute)),
            UpdateExpression="ADD used :want SET expiresAt = :expires",
            ConditionExpression="attribute_not_exists(used) OR used <= :room",
            ExpressionAttributeValues=attrs,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )
