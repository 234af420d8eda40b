"""The only module that talks to DynamoDB.

Keys (one table, every key carries the account):
  coupon       PK=A#<account>#C#<cpnNo>          SK=C
  redemption   PK=A#<account>#C#<cpnNo>          SK=R#<rdmId>  (kept after the coupon is deleted)
  idempotency  PK=A#<account>#IK#<route>#<hash>  SK=IK         (expires after 24 h, TTL)
  account      PK=ACCOUNT#<account>              SK=ACCOUNT
  API key      PK=KEY#<sha256(key)>              SK=KEY

A coupon also carries the keys of the three listing indexes (template.yaml), all sorted by its
time-ordered instance id `cid`: ByAccount (A#<account>), ByUser (A#<account>#U#<userId>, only
when it has a user) and ByGroup (A#<account>#G#<grpIdx>). They project keys only (ByUser also
grpIdx), so counting a use never writes an index.

A redemption id starts with the milliseconds of its record, and a redemption is only accepted
when that time is not before the coupon's `regTs`: the records of the current coupon are
exactly those with SK >= R#<regTs>, and older ones belong to a deleted coupon of the same code.

Business rules that must be atomic ride in condition expressions; when one fails, the old
item comes back with the error (ReturnValuesOnConditionCheckFailure=ALL_OLD) so the caller can
name the rule without a second read.

The on-site password lockout (rules.PASSWORD_*) lives on the coupon item: `pwdFailTs`, the
times of its recent wrong passwords, and `pwdLockedUntil`. The redeem condition refuses a
locked coupon with a password, and a successful redemption removes both in the same update.
A wrong password is counted by one more conditional UpdateItem (count_wrong_password).
"""

import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.loaders import Loader

from coupons import config
from coupons.errors import storage_busy

COUPON_SK = "C"
REDEMPTION_PREFIX = "R#"
IDEMPOTENCY_SK = "IK"
# Listing indexes: name -> partition key attribute (all sort by `cid`).
BY_ACCOUNT, BY_USER, BY_GROUP = "ByAccount", "ByUser", "ByGroup"
INDEX_PARTITIONS = {BY_ACCOUNT: "acctPK", BY_USER: "userPK", BY_GROUP: "groupPK"}
THROTTLING_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
# How often a write refused by a conflicting transaction is tried again (with backoff).
_CONFLICT_RETRIES = 8
# A transaction cancelled by throttling names it per item, with these reason codes.
THROTTLING_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})
Item = dict[str, Any]


def now_ms() -> int:
    """The clock of every stored timestamp: milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


class ConditionFailed(Exception):
    """A conditional write was refused; `old` is the item as it was (None if absent)."""

    def __init__(self, old: Item | None) -> None:
        super().__init__("condition failed")
        self.old = old


class _DynamoDBOnlyLoader(Loader):
    """Before loading a service's model, botocore checks the name against every service it
    ships, listing some 400 folders and stat-ing their files: about half of creating the
    client (~50 ms of INIT). This container only ever loads DynamoDB's models."""

    def list_available_services(self, type_name: str) -> list[str]:
        return ["dynamodb"]


@cache
def client() -> Any:
    """One client per container. botocore directly: it is the same client boto3 would build,
    without importing boto3 at cold start. The endpoint comes from AWS_ENDPOINT_URL_DYNAMODB
    when set (DynamoDB Local)."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _DynamoDBOnlyLoader())
    return session.create_client(
        "dynamodb",
        config=Config(
            retries={"mode": "standard", "max_attempts": 4},
            tcp_keepalive=True,
            max_pool_connections=50,  # the local gateway runs many requests per process
        ),
    )


# --- (de)serialization of the flat items we store -------------------------------------------


def _to_attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": format(Decimal(repr(value)), "f")}
    if isinstance(value, list):
        return {"L": [_to_attr(element) for element in value]}
    raise TypeError(f"unsupported attribute type {type(value).__name__}")


def _from_attr(attr: Mapping[str, Any]) -> Any:
    if "S" in attr:
        return attr["S"]
    if "N" in attr:
        number = attr["N"]
        return float(number) if any(c in number for c in ".eE") else int(number)
    if "BOOL" in attr:
        return attr["BOOL"]
    if "NULL" in attr:
        return None
    if "L" in attr:
        return [_from_attr(element) for element in attr["L"]]
    raise TypeError(f"unsupported attribute {sorted(attr)}")


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _to_attr(value) for name, value in values.items()}


def from_item(item: Mapping[str, Any] | None) -> Item | None:
    if not item:
        return None
    return {name: _from_attr(attr) for name, attr in item.items()}


def _values(**values: Any) -> dict[str, Any]:
    return {f":{name}": _to_attr(value) for name, value in values.items()}


def _call(operation: str, **params: Any) -> Any:
    """Run one DynamoDB request; throttling becomes 503/5030, a failed condition becomes
    ConditionFailed with the old item. A write to an item that is inside a running
    transaction (a redemption) is refused with TransactionConflictException, which botocore
    does not retry: it is retried here."""
    for attempt in range(_CONFLICT_RETRIES):
        try:
            return getattr(client(), operation)(TableName=config.table_name(), **params)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed(from_item(error.response.get("Item"))) from None
            if code in THROTTLING_ERRORS:
                raise storage_busy() from error
            if code != "TransactionConflictException":
                raise
            _backoff(attempt)
    raise storage_busy()


def coupon_pk(account: str, cpn_no: str) -> str:
    return f"A#{account}#C#{cpn_no}"


def _coupon_key(account: str, cpn_no: str) -> dict[str, Any]:
    return {"PK": {"S": coupon_pk(account, cpn_no)}, "SK": {"S": COUPON_SK}}


_INTERNAL = frozenset({"PK", "SK", *INDEX_PARTITIONS.values()})


def index_partition(account: str, index: str, value: object = None) -> str:
    """The partition of a listing index: the account's coupons, or those of one user or group."""
    if index == BY_USER:
        return f"A#{account}#U#{value}"
    if index == BY_GROUP:
        return f"A#{account}#G#{value}"
    return f"A#{account}"


def _index_keys(account: str, coupon: Mapping[str, Any]) -> dict[str, str]:
    keys = {
        "acctPK": index_partition(account, BY_ACCOUNT),
        "groupPK": index_partition(account, BY_GROUP, coupon["grpIdx"]),
    }
    if coupon["userId"]:
        keys["userPK"] = index_partition(account, BY_USER, coupon["userId"])
    return keys


def _coupon(item: Item | None) -> Item | None:
    if item is None:
        return None
    return {name: value for name, value in item.items() if name not in _INTERNAL}


# --- coupons ----------------------------------------------------------------------------------


def get_coupon(account: str, cpn_no: str, *, consistent: bool = False) -> Item | None:
    response = _call(
        "get_item",
        Key=_coupon_key(account, cpn_no),
        ConsistentRead=consistent,
    )
    return _coupon(from_item(response.get("Item")))


def _new_coupon_put(account: str, coupon: Mapping[str, Any]) -> dict[str, Any]:
    item = {
        "PK": coupon_pk(account, coupon["cpnNo"]),
        "SK": COUPON_SK,
        **_index_keys(account, coupon),
        **coupon,
    }
    return {"Item": to_item(item), "ConditionExpression": "attribute_not_exists(PK)"}


def put_new_coupon(account: str, coupon: Mapping[str, Any]) -> bool:
    """Create the coupon unless its code is taken; False when it is."""
    try:
        _call("put_item", **_new_coupon_put(account, coupon))
    except ConditionFailed:
        return False
    return True


def put_new_coupons(account: str, coupons: Sequence[Mapping[str, Any]]) -> list[int]:
    """Create all the coupons in one transaction, or none. Returns the positions whose code
    is taken (nothing was written then); [] on success."""
    try:
        _call_transaction([{"Put": _new_coupon_put(account, coupon)} for coupon in coupons])
    except _Cancelled as cancelled:
        taken = [
            position
            for position, reason in enumerate(cancelled.reasons)
            if reason.get("Code") == "ConditionalCheckFailed"
        ]
        if not taken:
            raise
        return taken
    return []


def update_coupon(
    account: str,
    cpn_no: str,
    changes: Mapping[str, Any],
    *,
    instance: str,
    version: int,
    unused_only: bool,
) -> None:
    """Set `changes` on the coupon if it is still the same instance at the same version and,
    when `unused_only`, still unused. Raises ConditionFailed with the old item otherwise."""
    changes = dict(changes)
    removals = []
    if "userId" in changes:  # the coupon moves to another user's listing, or out of it
        if changes["userId"]:
            changes["userPK"] = index_partition(account, BY_USER, changes["userId"])
        else:
            removals.append("userPK")
    if "grpIdx" in changes:
        changes["groupPK"] = index_partition(account, BY_GROUP, changes["grpIdx"])
    names = {f"#f{i}": name for i, name in enumerate(changes)}
    values = {f":f{i}": _to_attr(value) for i, value in enumerate(changes.values())}
    assignments = [f"#f{i} = :f{i}" for i in range(len(changes))]
    condition = "cid = :cid AND ver = :ver"
    if unused_only:
        condition += " AND useCnt = :zero"
    update = "SET " + ", ".join([*assignments, "ver = ver + :one"])
    if removals:
        update += " REMOVE " + ", ".join(removals)
    _call(
        "update_item",
        Key=_coupon_key(account, cpn_no),
        UpdateExpression=update,
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={
            **values,
            **_values(cid=instance, ver=version, one=1, **({"zero": 0} if unused_only else {})),
        },
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )


def delete_coupon(account: str, cpn_no: str) -> bool:
    """Delete the coupon; False if there was none. Its redemption records stay."""
    try:
        _call(
            "delete_item",
            Key=_coupon_key(account, cpn_no),
            ConditionExpression="attribute_exists(PK)",
        )
    except ConditionFailed:
        return False
    return True


# Redemption: the rules of rules.refusal as one condition on the coupon item, plus the
# caller's pinned belief about the coupon's limit (and count), plus "the coupon is not younger
# than the record" (see the module docstring).
_REDEEM_RULES = (
    "attribute_exists(PK)"
    " AND strtYmd <= :today AND endYmd >= :today"
    " AND {user_rule}"
    " AND (onsitePwd = :empty OR (onsitePwd = :pwd AND {unlocked}))"
    " AND (useLimit = :zero OR useCnt < useLimit)"
    " AND useLimit = :limit"
    " AND regTs <= :ts"
)
# A coupon with useLimit 2-5 always has a userId, so "userId = :user" covers both cases.
_NAMED_USER = "(userId = :user OR userId = :empty)"
_NO_USER = "useLimit < :two"
# The on-site password lock has ended, or there never was one.
_UNLOCKED = "(attribute_not_exists(pwdLockedUntil) OR pwdLockedUntil <= :now)"


class KeyInUse(Exception):
    """The Idempotency-Key of this request already has a live record (`old`)."""

    def __init__(self, old: Item) -> None:
        super().__init__("idempotency key in use")
        self.old = old


class NotCancellable(Exception):
    """No such redemption, or it is already cancelled."""


def redeem(
    account: str,
    cpn_no: str,
    *,
    today: str,
    user_id: str,
    onsite_pwd: str,
    use_count: int | None,
    use_limit: int,
    record: Mapping[str, Any],
    now: int,
    guard: Mapping[str, Any] | None = None,
) -> None:
    """Count one use and write the redemption record (and the request's idempotency record)
    in one transaction. A coupon with an on-site password must not be locked at `now` (ms);
    the use forgets its password failures (and an ended lock) in the same update.

    `use_limit` and `use_count` (None: not pinned) are what the caller believes the coupon
    holds; the condition checks the belief too, so on success the new count and what remains
    are known without reading the coupon back. Raises KeyInUse when the idempotency key has a
    record, else ConditionFailed with the coupon as it was when a rule refused or the belief
    was wrong.
    """
    values = _values(
        today=today,
        empty="",
        pwd=onsite_pwd,
        zero=0,
        one=1,
        limit=use_limit,
        ts=record["regTs"],
        now=now,
        **({"user": user_id} if user_id else {"two": 2}),
        **({"seen": use_count} if use_count is not None else {}),
    )
    condition = _REDEEM_RULES.format(
        user_rule=_NAMED_USER if user_id else _NO_USER, unlocked=_UNLOCKED
    )
    if use_count is not None:
        condition += " AND useCnt = :seen"
    pk = coupon_pk(account, cpn_no)
    reasons = _guarded_transaction(
        guard,
        {
            "Update": {
                "Key": _coupon_key(account, cpn_no),
                "UpdateExpression": "SET useCnt = useCnt + :one REMOVE pwdFailTs, pwdLockedUntil",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "Put": {
                "Item": to_item({"PK": pk, "SK": REDEMPTION_PREFIX + record["rdmId"], **record}),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        },
    )
    if reasons is not None:
        coupon_reason = reasons[0]
        if coupon_reason.get("Code") == "ConditionalCheckFailed":
            raise ConditionFailed(_coupon(from_item(coupon_reason.get("Item"))))
        raise RuntimeError(f"redemption refused: {[r.get('Code') for r in reasons]}")


def count_wrong_password(
    account: str,
    cpn_no: str,
    *,
    instance: str,
    seen: Sequence[int] | None,
    failures: Sequence[int],
    locked_until: int | None,
    now: int,
) -> None:
    """Count one wrong on-site password on the coupon: store `failures` as its recent
    failure times or, when this failure locks it, set `pwdLockedUntil = locked_until` and drop
    them (rules.after_wrong_password computes both from `seen`).

    A compare-and-set: it applies only if the coupon is still instance `instance`, is not
    locked at `now`, and still holds exactly the failure times `seen` (None: none), so
    concurrent failures are each counted once and the one that locks is exactly the
    rules.PASSWORD_FAILURES-th. Raises ConditionFailed with the coupon as it is now (None if
    gone) otherwise. Never creates an item."""
    condition = f"cid = :cid AND {_UNLOCKED} AND " + (
        "attribute_not_exists(pwdFailTs)" if seen is None else "pwdFailTs = :seen"
    )
    values = _values(cid=instance, now=now, **({} if seen is None else {"seen": list(seen)}))
    if locked_until is not None:
        update = "SET pwdLockedUntil = :until REMOVE pwdFailTs"
        values.update(_values(until=locked_until))
    else:
        update = "SET pwdFailTs = :failures REMOVE pwdLockedUntil"
        values.update(_values(failures=list(failures)))
    try:
        _call(
            "update_item",
            Key=_coupon_key(account, cpn_no),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ConditionFailed as failed:
        raise ConditionFailed(_coupon(failed.old)) from None


def cancel_redemption(
    account: str,
    cpn_no: str,
    rdm_id: str,
    *,
    redeemed_ts: int,
    cancel_ts: int,
    memo: str,
    use_count: int | None,
    use_limit: int,
    guard: Mapping[str, Any] | None = None,
) -> None:
    """Mark the redemption CANCELLED and give its use back, in one transaction.

    The coupon must be the one the redemption was made on (not older than it), and the
    caller's belief about its count and limit is pinned as in `redeem`. Raises KeyInUse,
    then ConditionFailed(None) when the coupon is gone, NotCancellable when the redemption is
    unknown, cancelled or belongs to a deleted coupon, else ConditionFailed(coupon) when the
    belief was wrong."""
    condition = "attribute_exists(PK) AND regTs <= :ts AND useLimit = :limit"
    values = _values(one=1, ts=redeemed_ts, limit=use_limit)
    if use_count is not None:
        condition += " AND useCnt = :seen"
        values.update(_values(seen=use_count))
    reasons = _guarded_transaction(
        guard,
        {
            "Update": {
                "Key": _coupon_key(account, cpn_no),
                "UpdateExpression": "SET useCnt = useCnt - :one",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "Update": {
                "Key": {
                    "PK": {"S": coupon_pk(account, cpn_no)},
                    "SK": {"S": REDEMPTION_PREFIX + rdm_id},
                },
                "UpdateExpression": "SET #status = :cancelled, cancelTs = :now, cancelMemo = :memo",
                "ConditionExpression": "#status = :redeemed",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": _values(
                    cancelled="CANCELLED", redeemed="REDEEMED", now=cancel_ts, memo=memo
                ),
            }
        },
    )
    if reasons is None:
        return
    coupon_reason, record_reason = reasons
    coupon = (
        _coupon(from_item(coupon_reason.get("Item")))
        if coupon_reason.get("Code") == "ConditionalCheckFailed"
        else None
    )
    if coupon_reason.get("Code") == "ConditionalCheckFailed" and coupon is None:
        raise ConditionFailed(None)
    if record_reason.get("Code") == "ConditionalCheckFailed":
        raise NotCancellable()
    if coupon is not None:
        if int(coupon["regTs"]) > redeemed_ts:
            raise NotCancellable()
        raise ConditionFailed(coupon)
    raise RuntimeError(f"cancellation refused: {[r.get('Code') for r in reasons]}")


def _guarded_transaction(
    guard: Mapping[str, Any] | None, *actions: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """Run `actions` in one transaction, preceded by the Put of the request's idempotency
    record when there is one. None on success; else the cancellation reasons of `actions`,
    unless the idempotency record was already there (KeyInUse, which wins)."""
    items = list(actions)
    if guard is not None:
        items.insert(0, {"Put": _idempotency_put(guard)})
    try:
        _call_transaction(items)
    except _Cancelled as cancelled:
        reasons = list(cancelled.reasons) or [{} for _ in items]
        if guard is not None:
            guard_reason = reasons.pop(0)
            if guard_reason.get("Code") == "ConditionalCheckFailed":
                raise KeyInUse(from_item(guard_reason.get("Item")) or {}) from None
        return reasons
    return None


class _Cancelled(Exception):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("transaction cancelled")
        self.reasons = reasons


def _call_transaction(items: list[dict[str, Any]]) -> None:
    """TransactWriteItems with the table name filled in; a conflict with another transaction
    on the same item is retried here, any other cancellation is raised as _Cancelled."""
    table = config.table_name()
    for action in items:
        next(iter(action.values()))["TableName"] = table
    for attempt in range(_CONFLICT_RETRIES):
        try:
            client().transact_write_items(TransactItems=items)
            return
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in THROTTLING_ERRORS:
                raise storage_busy() from error
            if code != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            codes = {reason.get("Code") for reason in reasons}
            if "TransactionConflict" in codes and "ConditionalCheckFailed" not in codes:
                _backoff(attempt)
                continue
            if codes & THROTTLING_REASONS:
                raise storage_busy() from error
            raise _Cancelled(reasons) from None
    raise storage_busy()


def list_redemptions(
    account: str, cpn_no: str, *, since_ts: int, limit: int, after: str | None
) -> tuple[list[Item], str | None]:
    """Up to `limit` of the coupon's redemption records made at or after `since_ts` (its
    current instance), newest first: (records, the rdmId to continue after, or None when
    there are no more). One Query."""
    pk = coupon_pk(account, cpn_no)
    params: dict[str, Any] = {
        "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
        "ExpressionAttributeValues": _values(
            pk=pk, low=f"{REDEMPTION_PREFIX}{since_ts:012x}", high=REDEMPTION_PREFIX + "~"
        ),
        "ScanIndexForward": False,
        "Limit": limit + 1,  # one more than asked tells whether there is a next page
    }
    if after is not None:
        params["ExclusiveStartKey"] = {"PK": {"S": pk}, "SK": {"S": REDEMPTION_PREFIX + after}}
    response = _call("query", **params)
    records = [item for item in map(from_item, response.get("Items", [])) if item]
    if len(records) > limit:
        return records[:limit], str(records[limit - 1]["rdmId"])
    return records, None


# --- listing ------------------------------------------------------------------------------------

_LIST_PAGES = 10  # a filtered listing reads at most this many index pages per request


def list_coupons(
    account: str,
    *,
    index: str,
    partition: str,
    group: int | None,
    limit: int,
    after: tuple[str, str] | None,
) -> tuple[list[Item], tuple[str, str] | None]:
    """Up to `limit` coupons from one listing index partition, newest first, optionally only
    those of one group (ByUser carries grpIdx for that): (coupons, the (cpnNo, cid) to
    continue after, or None when there are no more). Query, then one BatchGetItem."""
    attribute = INDEX_PARTITIONS[index]
    params: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": "#part = :part",
        "ExpressionAttributeNames": {"#part": attribute},
        "ExpressionAttributeValues": _values(part=partition),
        "ScanIndexForward": False,
    }
    if group is not None:
        params["FilterExpression"] = "grpIdx = :group"
        params["ExpressionAttributeValues"].update(_values(group=group))
    prefix = coupon_pk(account, "")
    found: list[tuple[str, str]] = []
    position = after
    for _ in range(_LIST_PAGES):
        if position is not None:
            params["ExclusiveStartKey"] = {
                "PK": {"S": coupon_pk(account, position[0])},
                "SK": {"S": COUPON_SK},
                attribute: {"S": partition},
                "cid": {"S": position[1]},
            }
        # One more than asked tells whether there is a next page.
        response = _call("query", Limit=limit + 1 - len(found), **params)
        found += [
            (str(item["PK"]["S"]).removeprefix(prefix), str(item["cid"]["S"]))
            for item in response.get("Items", [])
        ]
        last = response.get("LastEvaluatedKey")
        if len(found) > limit:
            found, position = found[:limit], found[limit - 1]
            break
        if last is None:
            position = None
            break
        position = (str(last["PK"]["S"]).removeprefix(prefix), str(last["cid"]["S"]))
    return _get_coupons(account, [code for code, _ in found]), position


def _get_coupons(account: str, codes: list[str]) -> list[Item]:
    """The coupons with these codes, in this order (skipping any deleted meanwhile)."""
    if not codes:
        return []
    table = config.table_name()
    found: dict[str, Item] = {}
    request: dict[str, Any] = {table: {"Keys": [_coupon_key(account, code) for code in codes]}}
    for attempt in range(_CONFLICT_RETRIES):
        try:
            response = client().batch_get_item(RequestItems=request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code", "") in THROTTLING_ERRORS:
                raise storage_busy() from error
            raise
        for raw in response.get("Responses", {}).get(table, []):
            coupon = _coupon(from_item(raw))
            if coupon is not None:
                found[str(coupon["cpnNo"])] = coupon
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return [found[code] for code in codes if code in found]
        _backoff(attempt)
    raise storage_busy()


# --- idempotency records ------------------------------------------------------------------------


def idempotency_pk(account: str, route: str, key_hash: str) -> str:
    return f"A#{account}#IK#{route}#{key_hash}"


def _idempotency_key(pk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": IDEMPOTENCY_SK}}


# A record may be taken over once it has expired, or when its request died in progress.
_IDEMPOTENCY_FREE = (
    "attribute_not_exists(PK) OR expiresAt < :now"
    " OR (#status = :inprogress AND inProgressExpiresAt < :nowms)"
)


def _idempotency_put(record: Mapping[str, Any]) -> dict[str, Any]:
    now = now_ms()
    return {
        "Item": to_item({"SK": IDEMPOTENCY_SK, **record}),
        "ConditionExpression": _IDEMPOTENCY_FREE,
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": _values(now=now // 1000, nowms=now, inprogress="INPROGRESS"),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def put_idempotency_record(record: Mapping[str, Any]) -> None:
    """Claim an idempotency key (`record["PK"]`); KeyInUse with the live record otherwise."""
    try:
        _call("put_item", **_idempotency_put(record))
    except ConditionFailed as failed:
        raise KeyInUse(failed.old or {}) from None


def get_idempotency_record(pk: str) -> Item | None:
    response = _call("get_item", Key=_idempotency_key(pk), ConsistentRead=True)
    return from_item(response.get("Item"))


def complete_idempotency_record(pk: str, values: Mapping[str, Any]) -> None:
    names = {f"#f{i}": name for i, name in enumerate(values)}
    _call(
        "update_item",
        Key=_idempotency_key(pk),
        UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(values))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":f{i}": _to_attr(v) for i, v in enumerate(values.values())},
    )


def delete_idempotency_record(pk: str) -> None:
    _call("delete_item", Key=_idempotency_key(pk))


def _backoff(attempt: int) -> None:
    import random

    time.sleep(random.uniform(0, 0.01 * 2**attempt))


# --- accounts and API keys --------------------------------------------------------------------


def _key_key(key_hash: str) -> dict[str, Any]:
    return {"PK": {"S": f"KEY#{key_hash}"}, "SK": {"S": "KEY"}}


def get_api_key(key_hash: str) -> Item | None:
    response = _call("get_item", Key=_key_key(key_hash), ConsistentRead=False)
    return from_item(response.get("Item"))


def _account_key(account: str) -> dict[str, Any]:
    return {"PK": {"S": f"ACCOUNT#{account}"}, "SK": {"S": "ACCOUNT"}}


def put_account(account: str, name: str, created: str, cursor_key: str) -> None:
    """`cursor_key` signs the account's pagination cursors (secret, never shown)."""
    _call(
        "put_item",
        Item=to_item(
            {
                "PK": f"ACCOUNT#{account}",
                "SK": "ACCOUNT",
                "account": account,
                "name": name,
                "created": created,
                "cursorKey": cursor_key,
            }
        ),
        ConditionExpression="attribute_not_exists(PK)",
    )


def get_account(account: str, *, consistent: bool = True) -> Item | None:
    response = _call("get_item", Key=_account_key(account), ConsistentRead=consistent)
    return from_item(response.get("Item"))


def add_cursor_key(account: str, cursor_key: str) -> bool:
    """Give an account created before cursors existed its cursor key (kept if it has one)."""
    return _update_existing(
        _account_key(account),
        "SET cursorKey = if_not_exists(cursorKey, :secret)",
        secret=cursor_key,
    )


def _update_existing(key: dict[str, Any], update: str, **values: Any) -> bool:
    """Apply `update` to the item at `key` if there is one; False if there is none."""
    try:
        _call(
            "update_item",
            Key=key,
            UpdateExpression=update,
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=_values(**values),
        )
    except ConditionFailed:
        return False
    return True


def put_api_key(key_hash: str, account: str, key_id: str, created: str) -> None:
    _call(
        "put_item",
        Item=to_item(
            {
                "PK": f"KEY#{key_hash}",
                "SK": "KEY",
                "account": account,
                "keyId": key_id,
                "created": created,
                "revoked": False,
            }
        ),
        ConditionExpression="attribute_not_exists(PK)",
    )


def list_api_keys(account: str | None = None) -> list[Item]:
    """Admin only: every key record (optionally of one account). Scans; never on a route."""
    params: dict[str, Any] = {
        "FilterExpression": "SK = :sk" + (" AND account = :account" if account else ""),
        "ExpressionAttributeValues": _values(sk="KEY", **({"account": account} if account else {})),
    }
    items: list[Item] = []
    while True:
        response = _call("scan", **params)
        items.extend(item for item in map(from_item, response.get("Items", [])) if item)
        if "LastEvaluatedKey" not in response:
            return items
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def revoke_api_key(key_hash: str) -> bool:
    return _update_existing(_key_key(key_hash), "SET revoked = :yes", yes=True)
