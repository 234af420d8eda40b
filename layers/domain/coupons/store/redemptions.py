"""Redemptions: a use counted on the coupon and its record written on the coupon item in one
request, its cancellation, and the history.

A coupon item carries its own recent redemption records (`rdm`: rdmId -> record), so that a
redemption or a cancellation changes one item: a single conditional UpdateItem whose
ReturnValues give the exact count, with no belief about the coupon to get wrong. Only an
Idempotency-Key's record or the shared wrong-password counters need a second item, and so a
transaction (which returns nothing, hence the caller's pinned belief about count and limit).
Once a coupon holds FLUSH_AT records they move to items of their own (SK R#<rdmId>, in the
coupon's partition), which is also where a deleted coupon's records go.

A redemption id starts with the milliseconds of its record, and a redemption is only accepted
when that time is not before the coupon's `regTs`: the moved-out records of the current coupon
are exactly those with SK >= R#<regTs>, and older ones belong to a deleted coupon of the same
code.

The on-site password lockout (rules.PASSWORD_*) lives on the coupon item: `pwdFailTs`, the
times of its recent wrong passwords, and `pwdLockedUntil`. The redeem condition refuses a
locked coupon with a password, and a successful redemption removes both in the same update.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from coupons import rules, settings
from coupons.records import PasswordGuard, RedemptionRecord, StoredCoupon
from coupons.store import guards
from coupons.store.client import ConditionFailed, get_many, request, transact
from coupons.store.coupons import (
    INLINE,
    UNLOCKED,
    as_coupon,
    guarded_update,
    moved_out,
    returned_coupon,
)
from coupons.store.idempotency import Guard, transact_guarded
from coupons.store.items import AttributeMap, Item, from_item, key, to_attr, values
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
    from mypy_boto3_dynamodb.type_defs import (
        QueryInputTypeDef,
        QueryOutputTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )

# The rules of rules.refusal as one condition on the coupon item, plus "the coupon is not
# younger than the record" (see the module docstring) and "it has its record map, with room".
# Every redemption, one UpdateItem or a transaction's Update, carries it (`#cst`: the coupon's
# status, a reserved word; absent: active).
REDEEM_RULES = (
    "attribute_exists(PK) AND attribute_exists(rdm)"
    " AND (attribute_not_exists(#cst) OR #cst <> :disabled)"
    " AND strtYmd <= :today AND endYmd >= :today"
    " AND {user_rule}"
    " AND (onsitePwd = :empty OR ((onsitePwd = :pwd OR onsitePwd = :clearpwd) AND {unlocked}))"
    " AND (useLimit = :zero OR useCnt < useLimit)"
    " AND regTs <= :ts AND size(rdm) < :most"
)
# A coupon with useLimit 2-5 always has a userId, so "userId = :user" covers both cases.
NAMED_USER = "(userId = :user OR userId = :empty)"
NO_USER = "useLimit < :two"
# Records a coupon item keeps before they move to items of their own: a limited coupon rarely
# gets there (its uses, and the cancelled ones), and the item stays near 1 KB, the write unit.
# A redemption that finds MOST_INLINE of them (their move keeps failing, or only transactions
# came) is refused, and the caller moves them before it tries again.
FLUSH_AT = 8
MOST_INLINE = 2 * FLUSH_AT
INLINE_BYTES = 2048

# What the caller believes the coupon holds, (useCnt, useLimit), pinned in a transaction's
# condition so that its answer is known without reading the coupon back (useCnt None: not
# pinned, the answer's count is then approximate).
type Belief = tuple[int | None, int]


class NotCancellable(Exception):
    """No such redemption, or it is already cancelled."""


class NotInline(Exception):
    """The redemption is not among the coupon's own records (moved out, or unknown)."""


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


def inline_records(coupon: Mapping[str, Any]) -> list[RedemptionRecord]:
    """The redemption records the coupon item carries itself."""
    return [
        cast(RedemptionRecord, {"rdmId": rdm_id, **fields})
        for rdm_id, fields in (coupon.get(INLINE) or {}).items()
    ]


def _pinned(condition: str, belief: Belief | None) -> tuple[str, dict[str, int]]:
    if belief is None:
        return condition, {}
    seen, limit = belief
    if seen is None:
        return condition + " AND useLimit = :limit", {"limit": limit}
    return condition + " AND useCnt = :seen AND useLimit = :limit", {"seen": seen, "limit": limit}


@dataclass(frozen=True)
class Attempt:
    """One redemption attempt: the request's facts, each checked in the condition. A coupon
    with an on-site password must hold one of `onsite_pwd` (rules.Presented: its digest, its
    clear form) and must not be locked at `now` (ms); `without_password` redeems only a coupon
    that has none (what a redemption whose shared counters were locked may still do)."""

    today: str
    user_id: str
    onsite_pwd: tuple[str, str]
    record: RedemptionRecord
    now: int
    belief: Belief | None = None
    without_password: bool = False


def _redeem_update(account: str, cpn_no: str, attempt: Attempt) -> "UpdateTypeDef":
    condition, pins = _pinned(
        REDEEM_RULES.format(
            user_rule=NAMED_USER if attempt.user_id else NO_USER, unlocked=UNLOCKED
        ),
        attempt.belief,
    )
    if attempt.without_password:
        condition += " AND onsitePwd = :empty"
    record = attempt.record
    attrs = values(
        today=attempt.today,
        empty="",
        pwd=attempt.onsite_pwd[0],
        clearpwd=attempt.onsite_pwd[1],
        zero=0,
        one=1,
        ts=record["regTs"],
        now=attempt.now,
        most=MOST_INLINE,
        disabled=rules.DISABLED,
        **({"user": attempt.user_id} if attempt.user_id else {"two": 2}),
        **pins,
    )
    attrs[":record"] = to_attr({name: value for name, value in record.items() if name != "rdmId"})
    return guarded_update(
        account,
        cpn_no,
        "SET useCnt = useCnt + :one, rdm.#rdm = :record REMOVE pwdFailTs, pwdLockedUntil",
        condition,
        attrs,
        {"#rdm": record["rdmId"], "#cst": "status"},
    )


def redeem(
    account: str,
    cpn_no: str,
    attempt: Attempt,
    *,
    guard: Guard | None = None,
    password_guards: Sequence[str] = (),
) -> StoredCoupon | None:
    """Count one use and write its record on the coupon, in one request; the use forgets the
    coupon's password failures (and an ended lock) in the same update.

    Alone, it is one UpdateItem and returns the coupon as it is after the use. With a `guard`
    (the Idempotency-Key's record) or `password_guards` (shared wrong-password counters that
    must not be locked, store/guards.py) it is one transaction, which returns None: the
    attempt's `belief` must then be given, and is checked too. Raises KeyInUse when the
    idempotency key has a record, else Refused with the coupon as it was when a rule refused
    or the belief was wrong, and the counters found locked."""
    update = _redeem_update(account, cpn_no, attempt)
    if guard is None and not password_guards:
        try:
            return returned_coupon(update)
        except ConditionFailed as failed:
            raise Refused(failed.old, coupon_failed=True, locks={}) from None
    assert attempt.belief is not None, "a transaction answers nothing: its belief must be pinned"
    cancelled = transact_guarded(
        guard, [{"Update": update}, *guards.unlocked_checks(password_guards, attempt.now)]
    )
    if cancelled is None:
        return None
    locks = {
        pk: guards.as_guard(cancelled.old(position))
        for position, pk in enumerate(password_guards, start=1)
        if cancelled.failed(position)
    }
    if cancelled.failed(0) or locks:
        raise Refused(cancelled.old(0), coupon_failed=cancelled.failed(0), locks=locks)
    raise RuntimeError(f"redemption refused: {[r.get('Code') for r in cancelled.reasons]}")


def _approximate_bytes(records: Mapping[str, Mapping[str, object]]) -> int:
    """About what the records weigh in the item: their ids and text, UTF-8."""
    return sum(
        len(rdm_id) + sum(len(str(value).encode()) + len(name) for name, value in fields.items())
        for rdm_id, fields in records.items()
    )


def move_out(account: str, cpn_no: str, coupon: StoredCoupon) -> None:
    """Move the coupon's own records to items of their own once it holds FLUSH_AT of them:
    one transaction, which applies only if none of them changed meanwhile and meets no other
    transaction (else a later redemption tries again; at MOST_INLINE redemptions are refused
    until they have moved)."""
    records = coupon.get(INLINE) or {}
    # One redemption in FLUSH_AT does it, and any that finds them over INLINE_BYTES (memos).
    if not records or (len(records) % FLUSH_AT and _approximate_bytes(records) < INLINE_BYTES):
        return
    names = {f"#r{i}": rdm_id for i, rdm_id in enumerate(records)}
    attrs = {f":r{i}": to_attr(fields) for i, fields in enumerate(records.values())}
    update = guarded_update(
        account,
        cpn_no,
        "REMOVE " + ", ".join(f"rdm.{name}" for name in names),
        " AND ".join(f"rdm.#r{i} = :r{i}" for i in range(len(records))),
        attrs,
        names,
    )
    try:  # sent once: the use is counted already, and this must not hold its answer up
        transact(
            [{"Update": update}, *moved_out(account, cpn_no, records)], attempts=1, resend=False
        )
    except Exception:
        logging.getLogger(__name__).warning("redemption records not moved out", exc_info=True)


@dataclass(frozen=True)
class Cancellation:
    """One cancellation attempt: the redemption `rdm_id` (made at `redeemed_ts`, ms), cancelled
    at `cancel_ts` with `memo`, and in a transaction the belief it pins."""

    rdm_id: str
    redeemed_ts: int
    cancel_ts: int
    memo: str
    belief: Belief | None = None


def _cancelled_fields(c: Cancellation) -> AttributeMap:
    return values(cancelled="CANCELLED", redeemed="REDEEMED", now=c.cancel_ts, memo=c.memo)


def _inline_cancel(account: str, cpn_no: str, c: Cancellation) -> "UpdateTypeDef":
    condition, pins = _pinned("attribute_exists(PK) AND rdm.#rdm.#status = :redeemed", c.belief)
    return guarded_update(
        account,
        cpn_no,
        "SET useCnt = useCnt - :one, rdm.#rdm.#status = :cancelled,"
        " rdm.#rdm.cancelTs = :now, rdm.#rdm.cancelMemo = :memo",
        condition,
        {**_cancelled_fields(c), **values(one=1, **pins)},
        {"#rdm": c.rdm_id, "#status": "status"},
    )


def _moved_out_cancel(
    account: str, cpn_no: str, c: Cancellation
) -> "list[TransactWriteItemTypeDef]":
    condition, pins = _pinned("attribute_exists(PK) AND regTs <= :ts", c.belief)
    return [
        {
            "Update": guarded_update(
                account,
                cpn_no,
                "SET useCnt = useCnt - :one",
                condition,
                values(one=1, ts=c.redeemed_ts, **pins),
            )
        },
        {
            "Update": {
                "TableName": settings.current().table_name,
                "Key": redemption_key(account, cpn_no, c.rdm_id),
                "UpdateExpression": "SET #status = :cancelled, cancelTs = :now, cancelMemo = :memo",
                "ConditionExpression": "#status = :redeemed",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": _cancelled_fields(c),
            }
        },
    ]


def _cancel_refused(old: Item | None, rdm_id: str) -> Exception:
    """Why a cancellation of a record on the coupon was refused."""
    coupon = as_coupon(old)
    if coupon is None:
        return ConditionFailed(None)
    record = (coupon.get(INLINE) or {}).get(rdm_id)
    if record is None:
        return NotInline()
    if record["status"] != "REDEEMED":
        return NotCancellable()
    return ConditionFailed(old)  # the belief was wrong


def _cancel_inline(
    account: str, cpn_no: str, c: Cancellation, guard: Guard | None
) -> StoredCoupon | None:
    """`cancel` of a record on the coupon."""
    update = _inline_cancel(account, cpn_no, c)
    if guard is None:
        try:
            return returned_coupon(update)
        except ConditionFailed as failed:
            raise _cancel_refused(failed.old, c.rdm_id) from None
    cancelled = transact_guarded(guard, [{"Update": update}])
    if cancelled is None:
        return None
    raise _cancel_refused(cancelled.old(0), c.rdm_id)


def cancel(
    account: str,
    cpn_no: str,
    c: Cancellation,
    *,
    inline: bool = True,
    guard: Guard | None = None,
) -> StoredCoupon | None:
    """Mark the redemption CANCELLED and give its use back, in one request.

    A record on the coupon (`inline`) without a `guard`: one UpdateItem, which returns the
    coupon as it is after. Else one transaction (returning None) that pins the belief like
    `redeem`; a moved-out record must belong to this coupon, not to an older one of the code.
    Raises KeyInUse, then ConditionFailed(None) when the coupon is gone, NotInline when the
    record is not on the coupon, NotCancellable when the redemption is unknown, cancelled or
    belongs to a deleted coupon, else ConditionFailed(coupon) when the belief was wrong."""
    if inline:
        return _cancel_inline(account, cpn_no, c, guard)
    assert c.belief is not None, "a transaction answers nothing: its belief must be pinned"
    cancelled = transact_guarded(guard, _moved_out_cancel(account, cpn_no, c))
    if cancelled is None:
        return None
    old = cancelled.old(0) if cancelled.failed(0) else None
    coupon = as_coupon(old)
    if cancelled.failed(0) and coupon is None:
        raise ConditionFailed(None)
    if cancelled.failed(1):
        raise NotCancellable()
    if coupon is not None:
        if int(coupon["regTs"]) > c.redeemed_ts:
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
    if coupon is not None and rdm_id in (coupon.get(INLINE) or {}):
        record = {"rdmId": rdm_id, **coupon[INLINE][rdm_id]}
    elif coupon is not None and record is None:
        # A batch is not isolated from a transaction: it may have read the record's own item
        # before its move out, and the coupon after. Read it again.
        record = next(
            iter(get_many([redemption_key(account, cpn_no, rdm_id)], consistent=True)), None
        )
    counters = {
        str(item["PK"]): guards.as_guard(item) for item in found if item["SK"] == PASSWORD_GUARD_SK
    }
    return (
        as_coupon(coupon),
        None if record is None else cast(RedemptionRecord, record),
        counters,
    )


def history(
    account: str, cpn_no: str, *, since_ts: int, limit: int, before: str | None
) -> list[RedemptionRecord]:
    """Up to `limit` of the coupon's moved-out redemption records made at or after `since_ts`
    (its current instance) and before the rdmId `before` (None: the newest), newest first.
    One Query."""
    pk = coupon_pk(account, cpn_no)

    def query(db: "DynamoDBClient", table: str) -> "QueryOutputTypeDef":
        params: QueryInputTypeDef = {
            "TableName": table,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": values(
                pk=pk, low=f"{REDEMPTION_PREFIX}{since_ts:012x}", high=REDEMPTION_PREFIX + "~"
            ),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if before is not None:
            params["ExclusiveStartKey"] = redemption_key(account, cpn_no, before)
        return db.query(**params)

    response = request(query)
    return [
        cast(RedemptionRecord, item) for item in map(from_item, response.get("Items", [])) if item
    ]
