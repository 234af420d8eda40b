"""The account's webhook (DESIGN 2.9), in a partition of its own (keys.webhook_pk): its
settings (SK CFG: url, enabled, the signing secret) and one item per delivery (SK D#<event
id>: event ids are time-ordered, so a Query lists deliveries newest first)."""

from typing import TYPE_CHECKING, Any

from coupons.store.client import ConditionFailed, request
from coupons.store.items import Item, assignments, from_item, key, to_item, values
from coupons.store.keys import DELIVERY_PREFIX, WEBHOOK_SK, delivery_key, webhook_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, QueryOutputTypeDef


def get_settings(account: str, *, consistent: bool = False) -> Item | None:
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=key(webhook_pk(account), WEBHOOK_SK), ConsistentRead=consistent
        )
    )
    return from_item(response.get("Item"))


def put_settings(account: str, url: str, enabled: bool, secret: str, now: int) -> Item:
    """Set url and enabled; the secret only if there is none yet. The settings after it."""
    response = request(
        lambda db, table: db.update_item(
            TableName=table,
            Key=key(webhook_pk(account), WEBHOOK_SK),
            UpdateExpression=(
                "SET #url = :url, enabled = :enabled, secret = if_not_exists(secret, :secret),"
                " createdTs = if_not_exists(createdTs, :now), updatedTs = :now"
            ),
            ExpressionAttributeNames={"#url": "url"},
            ExpressionAttributeValues=values(url=url, enabled=enabled, secret=secret, now=now),
            ReturnValues="ALL_NEW",
        )
    )
    found = from_item(response.get("Attributes"))
    assert found is not None
    return found


def rotate_secret(account: str, secret: str, now: int) -> bool:
    """A new signing secret; False when no webhook is set."""
    try:
        request(
            lambda db, table: db.update_item(
                TableName=table,
                Key=key(webhook_pk(account), WEBHOOK_SK),
                UpdateExpression="SET secret = :secret, updatedTs = :now",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=values(secret=secret, now=now),
            )
        )
    except ConditionFailed:
        return False
    return True


def put_delivery(account: str, delivery: dict[str, Any]) -> bool:
    """Record a new delivery; False when its event id has one already (the same committed
    change seen again: one delivery per event)."""
    item = {**delivery_key(account, str(delivery["id"])), **to_item(delivery)}
    try:
        request(
            lambda db, table: db.put_item(
                TableName=table, Item=item, ConditionExpression="attribute_not_exists(PK)"
            )
        )
    except ConditionFailed:
        return False
    return True


def get_delivery(account: str, event_id: str) -> Item | None:
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=delivery_key(account, event_id), ConsistentRead=True
        )
    )
    return from_item(response.get("Item"))


def forget_delivery(account: str, event_id: str) -> None:
    request(lambda db, table: db.delete_item(TableName=table, Key=delivery_key(account, event_id)))


def update_delivery(
    account: str, event_id: str, changes: dict[str, Any], *, only_if: tuple[str, ...] = ()
) -> bool:
    """Set `changes` on an existing delivery (whose status is one of `only_if`, when given);
    False otherwise."""
    sets, names, attrs = assignments(changes)
    condition = "attribute_exists(PK)"
    if only_if:
        names["#status"] = "status"
        attrs |= to_item({f":s{i}": status for i, status in enumerate(only_if)})
        condition += f" AND #status IN ({', '.join(f':s{i}' for i in range(len(only_if)))})"
    try:
        request(
            lambda db, table: db.update_item(
                TableName=table,
                Key=delivery_key(account, event_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attrs,
            )
        )
    except ConditionFailed:
        return False
    return True


def deliveries(account: str, *, limit: int, before: str | None) -> tuple[list[Item], bool]:
    """Up to `limit` deliveries, newest first, older than event id `before` (None: from the
    newest); and whether there are more. One Query."""

    def query(db: "DynamoDBClient", table: str) -> "QueryOutputTypeDef":
        params: QueryInputTypeDef = {
            "TableName": table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": values(pk=webhook_pk(account), prefix=DELIVERY_PREFIX),
            "ScanIndexForward": False,
            "Limit": limit + 1,
        }
        if before is not None:
            params["ExclusiveStartKey"] = delivery_key(account, before)
        return db.query(**params)

    found = [item for item in map(from_item, request(query).get("Items", [])) if item]
    return found[:limit], len(found) > limit
