"""Idempotency-Key records (coupons.idempotency owns their meaning): claimed by a conditional
put, alone (create, bulk) or as the first action of the transaction whose effect they remember
(redeem, cancel)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from coupons import clock, settings
from coupons.records import IdempotencyRecord
from coupons.store.client import Cancelled, ConditionFailed, request, transact
from coupons.store.items import Item, assignments, from_item, key, to_item, values
from coupons.store.keys import IDEMPOTENCY_SK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef

# A record may be taken over once it has expired, or when its request died in progress.
_FREE = (
    "attribute_not_exists(PK) OR expiresAt < :now"
    " OR (#status = :inprogress AND inProgressExpiresAt < :nowms)"
)


class KeyInUse(Exception):
    """The Idempotency-Key already has a live record (`old`)."""

    def __init__(self, old: IdempotencyRecord) -> None:
        super().__init__("idempotency key in use")
        self.old = old


@dataclass(frozen=True)
class Guard:
    """The record to claim in the same transaction as the effect it remembers."""

    pk: str
    record: IdempotencyRecord


def _as_record(item: Item | None) -> IdempotencyRecord:
    return cast(IdempotencyRecord, item or {})


def _claim(table: str, pk: str, record: IdempotencyRecord) -> "PutTypeDef":
    now = clock.now_ms()
    return {
        "TableName": table,
        "Item": to_item({"PK": pk, "SK": IDEMPOTENCY_SK, **record}),
        "ConditionExpression": _FREE,
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": values(now=now // 1000, nowms=now, inprogress="INPROGRESS"),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def claim(pk: str, record: IdempotencyRecord) -> None:
    """Claim the key `pk` for `record`; KeyInUse with the live record otherwise."""
    try:
        request(lambda db, table: db.put_item(**_claim(table, pk, record)))
    except ConditionFailed as failed:
        raise KeyInUse(_as_record(failed.old)) from None


def get(pk: str) -> IdempotencyRecord | None:
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=key(pk, IDEMPOTENCY_SK), ConsistentRead=True
        )
    )
    item = from_item(response.get("Item"))
    return None if item is None else _as_record(item)


def complete(pk: str, changes: Mapping[str, object]) -> None:
    sets, names, attrs = assignments(changes)
    request(
        lambda db, table: db.update_item(
            TableName=table,
            Key=key(pk, IDEMPOTENCY_SK),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attrs,
        )
    )


def delete(pk: str) -> None:
    request(lambda db, table: db.delete_item(TableName=table, Key=key(pk, IDEMPOTENCY_SK)))


def transact_guarded(
    guard: Guard | None, actions: "Sequence[TransactWriteItemTypeDef]"
) -> Cancelled | None:
    """Run `actions` in one transaction, preceded by the claim of `guard` when there is one.
    None on success; else the cancellation, with the reasons of `actions` only, unless the
    key was taken already (KeyInUse, which wins)."""
    if guard is None:
        try:
            transact(actions)
        except Cancelled as cancelled:
            return cancelled
        return None
    claim_action: TransactWriteItemTypeDef = {
        "Put": _claim(settings.current().table_name, guard.pk, guard.record)
    }
    try:
        transact([claim_action, *actions])
    except Cancelled as cancelled:
        if cancelled.failed(0):
            raise KeyInUse(_as_record(cancelled.old(0))) from None
        return Cancelled(cancelled.reasons[1:])
    return None
