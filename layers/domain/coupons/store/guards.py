"""Wrong-password counters shared by coupons (rules.SHARED_PASSWORD_FAILURES,
rules.ACCOUNT_PASSWORD_FAILURES): one item for the account, one per password digest. A
redemption that presents a password checks both are unlocked inside its transaction
(`unlocked_checks`); a wrong password is counted on each by a compare-and-set (`count`)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from coupons import settings
from coupons.records import PasswordGuard
from coupons.store.client import request
from coupons.store.coupons import UNLOCKED, failure_update
from coupons.store.items import Item, key, values
from coupons.store.keys import PASSWORD_GUARD_SK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# A counter item outlives its last failure by the window and the lock, then expires (TTL).
_KEEP_S = 2 * 15 * 60


def as_guard(item: Item | None) -> PasswordGuard:
    """The counter in an item (empty when there is none)."""
    if item is None:
        return {}
    return cast(PasswordGuard, {k: item[k] for k in ("pwdFailTs", "pwdLockedUntil") if k in item})


def unlocked_checks(pks: Sequence[str], now: int) -> "list[TransactWriteItemTypeDef]":
    """ConditionChecks that each counter is not locked at `now` (an absent one is not); a
    failed one returns the counter (Cancelled.old)."""
    table = settings.current().table_name
    return [
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": key(pk, PASSWORD_GUARD_SK),
                "ConditionExpression": UNLOCKED,
                "ExpressionAttributeValues": values(now=now),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        for pk in pks
    ]


def count(
    pk: str,
    *,
    seen: Sequence[int] | None,
    failures: Sequence[int],
    locked_until: int | None,
    now: int,
) -> None:
    """Count one wrong password on the counter `pk`, as store.coupons.count_wrong_password
    does on a coupon: a compare-and-set of its recent failures `seen` (None: none), refused
    with ConditionFailed(the counter now) when another failure got there first or it is
    locked. Creates the counter on its first failure."""
    condition, expression, attrs = failure_update(
        seen, failures, locked_until, now, also_set="expiresAt = :expires"
    )
    attrs.update(values(expires=now // 1000 + _KEEP_S))
    request(
        lambda db, table: db.update_item(
            TableName=table,
            Key=key(pk, PASSWORD_GUARD_SK),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeValues=attrs,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )
