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
from coupons.pricing import CURRENCIES, Order, decimals, minor_digits
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
    user_uses_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        QueryInputTypeDef,
        QueryOutputTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )


def _none(name: str) -> str:
    """A number attribute that is absent (a coupon stored before it existed) or 0: none."""
    return f"(attribute_not_exists({name}) OR {name} = :zero)"


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
    " AND (attribute_not_exists(totalLimit) OR totalLimit = :zero OR useCnt < totalLimit)"
    " AND {per_user_rule} AND {order_rule}"
    " AND regTs <= :ts AND size(rdm) < :most"
)
# A coupon with useLimit 2-5 always has a userId, so "userId = :user" covers both cases.
NAMED_USER = "(userId = :user OR userId = :empty)"
NO_USER = "useLimit < :two AND " + (NOT_PER_USER := _none("perUserLimit"))
# A coupon counted per user (perUserLimit) is redeemed only in a transaction that counts the
# user's use on the user's own item too (`PerUser`): the limit pinned, the count checked there.
PER_USER = "perUserLimit = :perUser AND cid = :cid"
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
    that were found locked, `user_failed` when the user's count was at the limit."""

    def __init__(
        self,
        old: Item | None,
        *,
        coupon_failed: bool,
        locks: dict[str, PasswordGuard],
        user_failed: bool = False,
        per_user: "PerUser | None" = None,
    ) -> None:
        super().__init__(old)
        self.coupon_failed = coupon_failed
        self.locks = locks
        # The user's count (under `per_user`, the limit and instance believed) was at the limit.
        self.user_failed = user_failed
        self.per_user = per_user

    def user_at_limit(self, coupon: StoredCoupon) -> bool:
        """Whether the user's uses of the coupon as it is are used up: their count refused,
        and it was the count of this coupon instance, under its limit (not a stale belief)."""
        believed = self.per_user
        return (
            self.user_failed
            and believed is not None
            and (believed.limit, believed.cid) == (coupon.get("perUserLimit"), coupon["cid"])
        )


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


def order_rule(order: Order | None) -> tuple[str, dict[str, object]]:
    """rules.order_refusal as a condition on the coupon item, and its values: no amount, no
    minimum; a named currency is the coupon's, or the coupon has none, or it is a percent
    coupon without a minimum or maximum; else the coupon's currency must allow the amount's
    decimals; and the amount is at least the minimum."""
    if order is None:
        return _none("minOrderAmt"), {}
    attrs: dict[str, object] = {"amount": order.amount}
    if order.currency:
        rule = (
            "(discCurrency = :currency OR discCurrency = :empty OR (discTypeIdx = :percent"
            f" AND {_none('minOrderAmt')} AND {_none('maxDiscAmt')}))"
        )
        attrs |= {"currency": order.currency, "percent": rules.PERCENT}
    else:
        digits = decimals(order.amount)
        allowed = {f"cur{i}": c for i, c in enumerate(CURRENCIES) if minor_digits(c) >= digits}
        rule = "discCurrency IN (" + ", ".join(f":{name}" for name in allowed) + ")"
        attrs |= allowed
    rule += " AND (attribute_not_exists(minOrderAmt) OR minOrderAmt <= :amount)"
    return rule, attrs


@dataclass(frozen=True)
class PerUser:
    """A shared code counted per user: its perUserLimit and instance, as the redemption
    believes them (pinned in the coupon's condition); the user's count is checked and counted
    on the user's own item, in the same transaction."""

    limit: int
    cid: str


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
    order: Order | None = None
    per_user: PerUser | None = None
    # The coupon's terms believed: its instance and version (`cid`, `ver`), pinned when known.
    version: tuple[str, int] | None = None
    # A use from the coupon's page (DESIGN 2.8): this instance, still on site, with a password.
    on_site: str | None = None


def _redeem_update(account: str, cpn_no: str, attempt: Attempt) -> "UpdateTypeDef":
    order_condition, order_values = order_rule(attempt.order)
    per_user = attempt.per_user
    condition, pins = _pinned(
        REDEEM_RULES.format(
            user_rule=NAMED_USER if attempt.user_id else NO_USER,
            unlocked=UNLOCKED,
            per_user_rule=NOT_PER_USER if per_user is None else PER_USER,
            order_rule=order_condition,
        ),
        attempt.belief,
    )
    if attempt.version is not None:
        condition += " AND cid = :instance AND ver = :ver"
    if attempt.without_password:
        condition += " AND onsitePwd = :empty"
    if attempt.on_site is not None:
        condition += " AND cid = :pageCid AND onsiteYn = :onsite AND onsitePwd <> :empty"
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
        **order_values,
        **({} if per_user is None else {"perUser": per_user.limit, "cid": per_user.cid}),
        **(
            {}
            if attempt.version is None
            else {"instance": attempt.version[0], "ver": attempt.version[1]}
        ),
        **({} if attempt.on_site is None else {"pageCid": attempt.on_site, "onsite": "Y"}),
    )
    attrs[":record"] = to_attr({name: value for name, value in record.items() if name != "rdmId"})
    return guarded_update(
        account,
        cpn_no,
        "SET useCnt = useCnt + :one, rdm.#rdm = :record"
        + (", priced = :one" if attempt.order is not None else "")
        + " REMOVE pwdFailTs, pwdLockedUntil",
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
    if guard is None and not password_guards and attempt.per_user is None:
        try:
            return returned_coupon(update)
        except ConditionFailed as failed:
            raise Refused(failed.old, coupon_failed=True, locks={}) from None
    assert attempt.belief is not None, "a transaction answers nothing: its belief must be pinned"
    actions: list[TransactWriteItemTypeDef] = [{"Update": update}]
    if attempt.per_user is not None:
        actions.append({"Update": _user_use(account, cpn_no, attempt.user_id, attempt.per_user)})
    first_guard = len(actions)
    cancelled = transact_guarded(
        guard, [*actions, *guards.unlocked_checks(password_guards, attempt.now)]
    )
    if cancelled is None:
        return None
    locks = {
        pk: guards.as_guard(cancelled.old(position))
        for position, pk in enumerate(password_guards, start=first_guard)
        if cancelled.failed(position)
    }
    user_failed = attempt.per_user is not None and cancelled.failed(1)
    if cancelled.failed(0) or locks or user_failed:
        raise Refused(
            cancelled.old(0),
            coupon_failed=cancelled.failed(0),
            locks=locks,
            user_failed=user_failed,
            per_user=attempt.per_user,
        )
    raise RuntimeError(f"redemption refused: {[r.get('Code') for r in cancelled.reasons]}")


def _user_use(account: str, cpn_no: str, user_id: str, per_user: PerUser) -> "UpdateTypeDef":
    """Count one use on the user's own item, below the coupon's perUserLimit."""
    return {
        "TableName": settings.current().table_name,
        "Key": user_uses_key(account, cpn_no, per_user.cid, user_id),
        "UpdateExpression": "SET n = if_not_exists(n, :zero) + :one",
        "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
        "ExpressionAttributeValues": values(zero=0, one=1, limit=per_user.limit),
    }


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
            [{"Update": update}, *moved_out(account, cpn_no, records, coupon)],
            attempts=1,
            resend=False,
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
    # A shared code counted per user: the redemption's user, whose count it gives back too.
    per_user: PerUser | None = None
    user_id: str = ""


class CountedPerUser(Exception):
    """The redemption to cancel was counted per user too (`coupon`: the coupon, as it is)."""

    def __init__(self, coupon: StoredCoupon) -> None:
        super().__init__()
        self.coupon = coupon


def _cancelled_fields(c: Cancellation) -> AttributeMap:
    return values(cancelled="CANCELLED", redeemed="REDEEMED", now=c.cancel_ts, memo=c.memo)


def _per_user_pin(c: Cancellation) -> tuple[str, AttributeMap]:
    """Whether the cancellation gives a use back to a user's count, pinned on the coupon."""
    if c.per_user is None:
        return " AND " + NOT_PER_USER, values(zero=0)
    return " AND " + PER_USER, values(perUser=c.per_user.limit, cid=c.per_user.cid)


def _user_use_back(account: str, cpn_no: str, c: Cancellation) -> "list[TransactWriteItemTypeDef]":
    if c.per_user is None:
        return []
    return [
        {
            "Update": {
                "TableName": settings.current().table_name,
                "Key": user_uses_key(account, cpn_no, c.per_user.cid, c.user_id),
                "UpdateExpression": "SET n = n - :one",
                "ConditionExpression": "n > :zero",
                "ExpressionAttributeValues": values(one=1, zero=0),
            }
        }
    ]


def _inline_cancel(account: str, cpn_no: str, c: Cancellation) -> "UpdateTypeDef":
    condition, pins = _pinned("attribute_exists(PK) AND rdm.#rdm.#status = :redeemed", c.belief)
    per_user, per_user_values = _per_user_pin(c)
    return guarded_update(
        account,
        cpn_no,
        "SET useCnt = useCnt - :one, rdm.#rdm.#status = :cancelled,"
        " rdm.#rdm.cancelTs = :now, rdm.#rdm.cancelMemo = :memo",
        condition + per_user,
        {**_cancelled_fields(c), **values(one=1, **pins), **per_user_values},
        {"#rdm": c.rdm_id, "#status": "status"},
    )


def _moved_out_cancel(
    account: str, cpn_no: str, c: Cancellation
) -> "list[TransactWriteItemTypeDef]":
    condition, pins = _pinned("attribute_exists(PK) AND regTs <= :ts", c.belief)
    per_user, per_user_values = _per_user_pin(c)
    return [
        {
            "Update": guarded_update(
                account,
                cpn_no,
                "SET useCnt = useCnt - :one",
                condition + per_user,
                {**values(one=1, ts=c.redeemed_ts, **pins), **per_user_values},
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
        *_user_use_back(account, cpn_no, c),
    ]


def _cancel_refused(old: Item | None, c: Cancellation) -> Exception:
    """Why a cancellation of a record on the coupon was refused."""
    coupon = as_coupon(old)
    if coupon is None:
        return ConditionFailed(None)
    record = (coupon.get(INLINE) or {}).get(c.rdm_id)
    if record is None:
        return NotInline()
    if record["status"] != "REDEEMED":
        return NotCancellable()
    if coupon.get("perUserLimit") and c.per_user is None:
        return CountedPerUser(coupon)
    return ConditionFailed(old)  # the belief was wrong


def _cancel_inline(
    account: str, cpn_no: str, c: Cancellation, guard: Guard | None
) -> StoredCoupon | None:
    """`cancel` of a record on the coupon."""
    update = _inline_cancel(account, cpn_no, c)
    if guard is None and c.per_user is None:
        try:
            return returned_coupon(update)
        except ConditionFailed as failed:
            raise _cancel_refused(failed.old, c) from None
    cancelled = transact_guarded(guard, [{"Update": update}, *_user_use_back(account, cpn_no, c)])
    if cancelled is None:
        return None
    if not cancelled.failed(0):  # the user's count was not there to give back
        raise RuntimeError(f"cancellation refused: {[r.get('Code') for r in cancelled.reasons]}")
    raise _cancel_refused(cancelled.old(0), c)


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
    belongs to a deleted coupon, CountedPerUser when the use was counted per user too and the
    cancellation does not give it back, else ConditionFailed(coupon) when the belief was wrong.
    A use counted per user (`c.per_user`) is given back to the user's count in the same
    transaction."""
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
        if coupon.get("perUserLimit") and c.per_user is None:
            raise CountedPerUser(coupon)
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


def moved_record(account: str, cpn_no: str, rdm_id: str) -> RedemptionRecord | None:
    """One of the coupon's redemption records that moved to an item of its own (strongly
    consistent GetItem)."""
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=redemption_key(account, cpn_no, rdm_id), ConsistentRead=True
        )
    )
    found = from_item(response.get("Item"))
    return None if found is None else cast(RedemptionRecord, found)


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
