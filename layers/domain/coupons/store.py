"""The only module that talks to DynamoDB.

Keys (one table, every key carries the account):
  coupon      PK=A#<account>#C#<cpnNo>  SK=C
  redemption  PK=A#<account>#C#<cpnNo>  SK=R#<rdmId>   (kept after the coupon is deleted)
  account     PK=ACCOUNT#<account>      SK=ACCOUNT
  API key     PK=KEY#<sha256(key)>      SK=KEY

Business rules that must be atomic ride in condition expressions; when one fails, the old
item comes back with the error (ReturnValuesOnConditionCheckFailure=ALL_OLD) so the caller can
name the rule without a second read.
"""

from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from coupons import config
from coupons.errors import storage_busy

COUPON_SK = "C"
REDEMPTION_PREFIX = "R#"
THROTTLING_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
Item = dict[str, Any]


class ConditionFailed(Exception):
    """A conditional write was refused; `old` is the item as it was (None if absent)."""

    def __init__(self, old: Item | None) -> None:
        super().__init__("condition failed")
        self.old = old


@cache
def client() -> Any:
    """One client per container. botocore directly: it is the same client boto3 would build,
    without importing boto3's S3 transfer manager at cold start. The endpoint comes from
    AWS_ENDPOINT_URL_DYNAMODB when set (DynamoDB Local)."""
    session = botocore.session.get_session()
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
    ConditionFailed with the old item."""
    try:
        return getattr(client(), operation)(TableName=config.table_name(), **params)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed(from_item(error.response.get("Item"))) from None
        if code in THROTTLING_ERRORS:
            raise storage_busy() from error
        raise


def coupon_pk(account: str, cpn_no: str) -> str:
    return f"A#{account}#C#{cpn_no}"


def _coupon_key(account: str, cpn_no: str) -> dict[str, Any]:
    return {"PK": {"S": coupon_pk(account, cpn_no)}, "SK": {"S": COUPON_SK}}


_INTERNAL = frozenset({"PK", "SK"})


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


def put_new_coupon(account: str, coupon: Mapping[str, Any]) -> bool:
    """Create the coupon unless its code is taken; False when it is."""
    item = {"PK": coupon_pk(account, coupon["cpnNo"]), "SK": COUPON_SK, **coupon}
    try:
        _call(
            "put_item",
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(PK)",
        )
    except ConditionFailed:
        return False
    return True


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
    names = {f"#f{i}": name for i, name in enumerate(changes)}
    values = {f":f{i}": _to_attr(value) for i, value in enumerate(changes.values())}
    assignments = [f"#f{i} = :f{i}" for i in range(len(changes))]
    condition = "cid = :cid AND ver = :ver"
    if unused_only:
        condition += " AND useCnt = :zero"
    _call(
        "update_item",
        Key=_coupon_key(account, cpn_no),
        UpdateExpression="SET " + ", ".join([*assignments, "ver = ver + :one"]),
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
# caller's pinned belief about the coupon's limit (and count).
_REDEEM_RULES = (
    "attribute_exists(PK)"
    " AND strtYmd <= :today AND endYmd >= :today"
    " AND {user_rule}"
    " AND (onsitePwd = :empty OR onsitePwd = :pwd)"
    " AND (useLimit = :zero OR useCnt < useLimit)"
    " AND useLimit = :limit"
)
# A coupon with useLimit 2-5 always has a userId, so "userId = :user" covers both cases.
_NAMED_USER = "(userId = :user OR userId = :empty)"
_NO_USER = "useLimit < :two"


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
) -> None:
    """Count one use and write the redemption record in one transaction.

    `use_limit` and `use_count` (None: not pinned) are what the caller believes the coupon
    holds; the condition checks the belief too, so on success the new count and what remains
    are known without reading the coupon back. Raises ConditionFailed with the coupon as it
    was when a rule refused or the belief was wrong.
    """
    values = _values(
        today=today,
        empty="",
        pwd=onsite_pwd,
        zero=0,
        one=1,
        limit=use_limit,
        **({"user": user_id} if user_id else {"two": 2}),
        **({"seen": use_count} if use_count is not None else {}),
    )
    condition = _REDEEM_RULES.format(user_rule=_NAMED_USER if user_id else _NO_USER)
    if use_count is not None:
        condition += " AND useCnt = :seen"
    pk = coupon_pk(account, cpn_no)
    try:
        _call_transaction(
            [
                {
                    "Update": {
                        "Key": _coupon_key(account, cpn_no),
                        "UpdateExpression": "SET useCnt = useCnt + :one",
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": values,
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {
                    "Put": {
                        "Item": to_item(
                            {"PK": pk, "SK": REDEMPTION_PREFIX + record["rdmId"], **record}
                        ),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )
    except _Cancelled as cancelled:
        reason = cancelled.reasons[0] if cancelled.reasons else {}
        if reason.get("Code") == "ConditionalCheckFailed":
            raise ConditionFailed(_coupon(from_item(reason.get("Item")))) from None
        raise


class _Cancelled(Exception):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("transaction cancelled")
        self.reasons = reasons


_CONFLICT_RETRIES = 8


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
            if codes & THROTTLING_ERRORS:
                raise storage_busy() from error
            raise _Cancelled(reasons) from None
    raise storage_busy()


def _backoff(attempt: int) -> None:
    import random
    import time

    time.sleep(random.uniform(0, 0.01 * 2**attempt))


# --- accounts and API keys --------------------------------------------------------------------


def _key_key(key_hash: str) -> dict[str, Any]:
    return {"PK": {"S": f"KEY#{key_hash}"}, "SK": {"S": "KEY"}}


def get_api_key(key_hash: str) -> Item | None:
    response = _call("get_item", Key=_key_key(key_hash), ConsistentRead=False)
    return from_item(response.get("Item"))


def put_account(account: str, name: str, created: str) -> None:
    _call(
        "put_item",
        Item=to_item(
            {
                "PK": f"ACCOUNT#{account}",
                "SK": "ACCOUNT",
                "account": account,
                "name": name,
                "created": created,
            }
        ),
        ConditionExpression="attribute_not_exists(PK)",
    )


def get_account(account: str) -> Item | None:
    response = _call(
        "get_item",
        Key={"PK": {"S": f"ACCOUNT#{account}"}, "SK": {"S": "ACCOUNT"}},
        ConsistentRead=True,
    )
    return from_item(response.get("Item"))


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
    try:
        _call(
            "update_item",
            Key=_key_key(key_hash),
            UpdateExpression="SET revoked = :yes",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=_values(yes=True),
        )
    except ConditionFailed:
        return False
    return True
