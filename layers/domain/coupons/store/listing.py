"""Listing coupons through the three listing indexes (keys.py), newest first."""

from typing import TYPE_CHECKING

from coupons.records import StoredCoupon
from coupons.store.client import get_many, request
from coupons.store.coupons import as_coupon
from coupons.store.items import values
from coupons.store.keys import COUPON_SK, INDEX_PARTITIONS, coupon_key, coupon_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, QueryOutputTypeDef

# A filtered listing reads at most this many index pages per request.
MAX_INDEX_PAGES = 10

type Position = tuple[str, str]  # (cpnNo, cid) of the last coupon listed


def coupons(
    account: str,
    *,
    index: str,
    partition: str,
    group: int | None,
    limit: int,
    after: Position | None,
) -> tuple[list[StoredCoupon], Position | None]:
    """Up to `limit` coupons from one listing index partition, newest first, optionally only
    those of one group (ByUser carries grpIdx for that): (coupons, the position to continue
    after, or None when there are no more). Query, then one BatchGetItem."""
    attribute = INDEX_PARTITIONS[index]
    attrs = values(part=partition, **({} if group is None else {"group": group}))
    prefix = coupon_pk(account, "")
    found: list[Position] = []
    position = after

    def query_page(db: "DynamoDBClient", table: str) -> "QueryOutputTypeDef":
        params: QueryInputTypeDef = {
            "TableName": table,
            "IndexName": index,
            "KeyConditionExpression": "#part = :part",
            "ExpressionAttributeNames": {"#part": attribute},
            "ExpressionAttributeValues": attrs,
            "ScanIndexForward": False,
            "Limit": limit + 1 - len(found),  # one more than asked tells whether there is more
        }
        if group is not None:
            params["FilterExpression"] = "grpIdx = :group"
        if position is not None:
            params["ExclusiveStartKey"] = {
                "PK": {"S": coupon_pk(account, position[0])},
                "SK": {"S": COUPON_SK},
                attribute: {"S": partition},
                "cid": {"S": position[1]},
            }
        return db.query(**params)

    for _ in range(MAX_INDEX_PAGES):
        response = request(query_page)
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


def _get_coupons(account: str, codes: list[str]) -> list[StoredCoupon]:
    """The coupons with these codes, in this order (skipping any deleted meanwhile)."""
    items = get_many([coupon_key(account, code) for code in codes])
    found = {coupon["cpnNo"]: coupon for coupon in map(as_coupon, items) if coupon is not None}
    return [found[code] for code in codes if code in found]
