"""Redemptions: a use counted on the coupon and its record written in one transaction (with the
request's Idempotency-Key record, when it has one), its cancellation, and the history.

A redemption id starts with the milliseconds of its record, and a redemption is only accepted
when that time is not before the coupon's `regTs`: the records of the current coupon are
exactly those with SK >= R#<regTs>, and older ones belong to a deleted coupon of the same code.

The on-site password lockout (rules.PASSWORD_*) lives on the coupon item: `pwdFailTs`, the
times of its recent wrong passwords, and `pwdLockedUntil`. The redeem condition refuses a
locked coupon with a password, and a successful redemption removes both in the same update.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from coupons import settings
from coupons.records import PasswordGuard, RedemptionRecord, StoredCoupon
from coupons.store import guards
from coupons.store.client import ConditionFailed, get_many, request
from coupons.store.coupons import UNLOCKED, as_coupon, guarded_update
from coupons.store.idempotency import Guard, transact_guarded
from coupons.store.items import Item, from_item, key, to_item, values
from coupons.store.keys import (
    COUPON_SK,
    PASSWORD_GUARD_SK,
    REDEMPTION_PREFIX,
    coupon_key,
    coupon_pk,
    redemption_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, QueryOutputTypeDef

# The rules of rules.refusal as one condition on the coupon item, plus the caller's pinned
# belief about the coupon's limit (and count), plus "the coupon is not younger than the
# record" (see the module docstring).
REDEEM_RULES = (
    "attribute_exists(PK)"
    " AND strtYmd <= :today AND endYmd >= :today"
    " AND {user_rule}"
    " AND (onsitePwd = :empty OR ((onsitePwd = :pwd OR onsitePwd = :clearpwd) AND {unlocked}))"
    " AND (useLimit = :zero OR useCnt < useLimit)"
    " AND useLimit = :limit"
    " AND regTs <= :ts"
)
# A coupon with useLimit 2-5 always has a userId, so "userId = :user" covers both cases.
NAMED_USER = "(userId = :user OR userId = :empty)"
NO_USER = "useLimit < :two"


class NotCancellable(Exception):
    """No such redemption, or it is already cancelled."""


class Refused(ConditionFailed):
    """A redemption refused: `old` is the coupon as it was when its own condition failed
    (`coupon_failed`; None then means it is gone), `locks` the shared wrong-password counters
    that were found locked."""

    def __init__(
        self, old: Item | None, *, coupon_failed: bool, locks: dict[str, PasswordGuard]
    ) -> None:
        super().__init__(old)
        self.coupon_failed = coupon_failed
        self.locks = locks


def redeem(  # noqa: PLR0913 - the request's facts, each pinned in the condition
    account: str,
    cpn_no: str,
    *,
    today: str,
    user_id: str,
    onsite_pwd: tuple[str, str],
    use_count: int | None,
    use_limit: int,
    record: RedemptionRecord,
    now: int,
    guard: Guard | None = None,
    password_guards: Sequence[str] = (),
    without_password: bool = False,
) -> None:
    """Count one use and write the redemption record (and the request's idempotency record)
    in one transaction; `password_guards`, the shared wrong-password counters that must not
    be locked (store/guards.py), are checked in it too; `without_password` redeems only a
    coupon that has no password (what a redemption whose shared counters were locked may
    still do). A coupon with an on-site password must hold one of `onsite_pwd`
    (rules.Presented: its digest, its clear form) and must not be locked at `now` (ms);
    the use forgets its password failures (and an ended lock) in the same update.

    `use_limit` and `use_count` (None: not pinned) are what the caller believes the coupon
    holds; the condition checks the belief too, so on success the new count and what remains
    are known without reading the coupon back. Raises KeyInUse when the idempotency key has a
    record, else Refused with the coupon as it was when a rule refused or the belief was
    wrong, and the counters found locked.
    """
    attrs = values(
        today=today,
        empty="",
        pwd=onsite_pwd[0],
        clearpwd=onsite_pwd[1],
        zero=0,
        one=1,
        limit=use_limit,
        ts=record["regTs"],
        now=now,
        **({"user": user_id} if user_id else {"two": 2}),
        **({"seen": use_count} if use_count is not None else {}),
    )
    condition = REDEEM_RULES.format(user_rule=NAMED_USER if user_id else NO_USER, unlocked=UNLOCKED)
    if use_count is not None:
        condition += " AND useCnt = :seen"
    if without_password:
        condition += " AND onsitePwd = :empty"
    table = settings.current().table_name
    cancelled = transact_guarded(
        guard,
        [
            {
                "Update": guarded_update(
                    account,
                    cpn_no,
                    "SET useCnt = useCnt + :one REMOVE pwdFailTs, pwdLockedUntil",
                    condition,
                    attrs,
                )
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": to_item(
                        {
                            "PK": coupon_pk(account, cpn_no),
                            "SK": REDEMPTION_PREFIX + record["rdmId"],
                            **record,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            *guards.unlocked_checks(password_guards, now),
        ],
    )
    if cancelled is None:
        return
    locks = {
        pk: guards.as_guard(cancelled.old(position))
        for position, pk in enumerate(password_guards, start=2)
        if cancelled.failed(position)
    }
    if cancelled.failed(0) or locks:
        raise Refused(cancelled.old(0), coupon_failed=cancelled.failed(0), locks=locks)
    raise RuntimeError(f"redemption refused: {[r.get('Code') for r in cancelled.reasons]}")


def cancel(  # noqa: PLR0913 - the cancellation's facts, each pinned in the condition
    account: str,
    cpn_no: str,
    rdm_id: str,
    *,
    redeemed_ts: int,
    cancel_ts: int,
    memo: str,
    use_count: int | None,
    use_limit: int,
    guard: Guard | None = None,
) -> None:
    """Mark the redemption CANCELLED and give its use back, in one transaction.

    The coupon must be the one the redemption was made on (not older than it), and the
    caller's belief about its count and limit is pinned as in `redeem`. Raises KeyInUse,
    then ConditionFailed(None) when the coupon is gone, NotCancellable when the redemption is
    unknown, cancelled or belongs to a deleted coupon, else ConditionFailed(coupon) when the
    belief was wrong."""
    condition = "attribute_exists(PK) AND regTs <= :ts AND useLimit = :limit"
    attrs = values(one=1, ts=redeemed_ts, limit=use_limit)
    if use_count is not None:
        condition += " AND useCnt = :seen"
        attrs.update(values(seen=use_count))
    table = settings.current().table_name
    cancelled = transact_guarded(
        guard,
        [
            {
                "Update": guarded_update(
                    account, cpn_no, "SET useCnt = useCnt - :one", condition, attrs
                )
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": redemption_key(account, cpn_no, rdm_id),
                    "UpdateExpression": (
                        "SET #status = :cancelled, cancelTs = :now, cancelMemo = :memo"
                    ),
                    "ConditionExpression": "#status = :redeemed",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": values(
                        cancelled="CANCELLED", redeemed="REDEEMED", now=cancel_ts, memo=memo
                    ),
                }
            },
        ],
    )
    if cancelled is None:
        return
    old = cancelled.old(0) if cancelled.failed(0) else None
    coupon = as_coupon(old)
    if cancelled.failed(0) and coupon is None:
        raise ConditionFailed(None)
    if cancelled.failed(1):
        raise NotCancellable()
    if coupon is not None:
        if int(coupon["regTs"]) > redeemed_ts:
            raise NotCancellable()
        raise ConditionFailed(old)
    raise RuntimeError(f"cancellation refused: {[r.get('Code') for r in cancelled.reasons]}")


def standing(
    account: str, cpn_no: str, rdm_id: str, password_guards: Sequence[str] = ()
) -> tuple[StoredCoupon | None, RedemptionRecord | None, dict[str, PasswordGuard]]:
    """The coupon, one of its redemption records and the shared wrong-password counters
    `password_guards` as they are now (strongly consistent), in one BatchGetItem: what a
    replayed redemption is checked against."""
    wanted = [coupon_key(account, cpn_no), redemption_key(account, cpn_no, rdm_id)]
    wanted += [key(pk, PASSWORD_GUARD_SK) for pk in password_guards]
    found = get_many(wanted, consistent=True)
    coupon = next((item for item in found if item["SK"] == COUPON_SK), None)
    record = next((item for item in found if str(item["SK"]).startswith(REDEMPTION_PREFIX)), None)
    counters = {
        str(item["PK"]): guards.as_guard(item) for item in found if item["SK"] == PASSWORD_GUARD_SK
    }
    return (
        as_coupon(coupon),
        None if record is None else cast(RedemptionRecord, record),
        counters,
    )


def history(
    account: str, cpn_no: str, *, since_ts: int, limit: int, after: str | None
) -> tuple[list[RedemptionRecord], str | None]:
    """Up to `limit` of the coupon's redemption records made at or after `since_ts` (its
    current instance), newest first: (records, the rdmId to continue after, or None when
    there are no more). One Query."""
    pk = coupon_pk(account, cpn_no)

    def query(db: "DynamoDBClient", table: str) -> "QueryOutputTypeDef":
        params: QueryInputTypeDef = {
            "TableName": table,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": values(
                pk=pk, low=f"{REDEMPTION_PREFIX}{since_ts:012x}", high=REDEMPTION_PREFIX + "~"
            ),
            "ScanIndexForward": False,
            "Limit": limit + 1,  # one more than asked tells whether there is a next page
        }
        if after is not None:
            params["ExclusiveStartKey"] = redemption_key(account, cpn_no, after)
        return db.query(**params)

    response = request(query)
    records = [
        cast(RedemptionRecord, item) for item in map(from_item, response.get("Items", [])) if item
    ]
    if len(records) > limit:
        return records[:limit], records[limit - 1]["rdmId"]
    return records, None
