"""Coupon templates (DESIGN 2.7): numbered 1, 2, 3 ... per account, in one partition of the
account's own (keys.templates_pk): its number sequence (SK N) and one item per template
(SK T#<tmplIdx, 10 digits>, so that a Query lists them in order).

`refCnt` counts the coupons and groups that refer to a template; a template is deleted only
while it is 0, in the delete's own condition."""

from typing import TYPE_CHECKING, cast

from coupons import settings
from coupons.records import StoredTemplate
from coupons.store.client import ConditionFailed, request
from coupons.store.items import assignments, from_item, key, to_item, values
from coupons.store.keys import TEMPLATE_SEQUENCE_SK, template_key, templates_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        QueryInputTypeDef,
        QueryOutputTypeDef,
        UpdateTypeDef,
    )


class InUse(Exception):
    """The template is referred to (its refCnt is not 0)."""


def next_number(account: str) -> int:
    """The account's next tmplIdx (one UpdateItem of its sequence; never reused)."""
    response = request(
        lambda db, table: db.update_item(
            TableName=table,
            Key=key(templates_pk(account), TEMPLATE_SEQUENCE_SK),
            UpdateExpression="SET n = if_not_exists(n, :zero) + :one",
            ExpressionAttributeValues=values(zero=0, one=1),
            ReturnValues="UPDATED_NEW",
        )
    )
    return int(response["Attributes"]["n"]["N"])


def put_new(account: str, template: StoredTemplate) -> None:
    item = {**template_key(account, template["tmplIdx"]), **to_item(template)}
    request(
        lambda db, table: db.put_item(
            TableName=table, Item=item, ConditionExpression="attribute_not_exists(PK)"
        )
    )


def get(account: str, tmpl_idx: int, *, consistent: bool = False) -> StoredTemplate | None:
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=template_key(account, tmpl_idx), ConsistentRead=consistent
        )
    )
    return _as_template(from_item(response.get("Item")))


def update(account: str, tmpl_idx: int, changes: dict[str, object]) -> bool:
    """Set `changes` on the template; False if there is none. One UpdateItem."""
    sets, names, attrs = assignments(changes)
    try:
        request(
            lambda db, table: db.update_item(
                TableName=table,
                Key=template_key(account, tmpl_idx),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attrs,
            )
        )
    except ConditionFailed:
        return False
    return True


def delete(account: str, tmpl_idx: int) -> bool:
    """Delete the template unless something refers to it (InUse); False if there is none.
    One DeleteItem."""
    try:
        request(
            lambda db, table: db.delete_item(
                TableName=table,
                Key=template_key(account, tmpl_idx),
                ConditionExpression=(
                    "attribute_exists(PK) AND (attribute_not_exists(refCnt) OR refCnt = :zero)"
                ),
                ExpressionAttributeValues=values(zero=0),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        )
    except ConditionFailed as failed:
        if failed.old is None:
            return False
        raise InUse() from None
    return True


def page(account: str, *, limit: int, after: int | None) -> tuple[list[StoredTemplate], bool]:
    """Up to `limit` templates in tmplIdx order after `after` (None: from the first), and
    whether there are more. One Query."""

    def query(db: "DynamoDBClient", table: str) -> "QueryOutputTypeDef":
        params: QueryInputTypeDef = {
            "TableName": table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": values(pk=templates_pk(account), prefix="T#"),
            "Limit": limit + 1,  # one more than asked tells whether there is more
        }
        if after is not None:
            params["ExclusiveStartKey"] = template_key(account, after)
        return db.query(**params)

    items = [_as_template(from_item(item)) for item in request(query).get("Items", [])]
    found = [template for template in items if template is not None]
    return found[:limit], len(found) > limit


def _as_template(item: dict[str, object] | None) -> StoredTemplate | None:
    if item is None:
        return None
    return cast(StoredTemplate, {k: v for k, v in item.items() if k not in ("PK", "SK")})


# --- what refers to a template ------------------------------------------------------------
# Each coupon that names a template is counted on it (refCnt) in the same transaction as the
# coupon's own write, so a template something refers to cannot be deleted (the delete needs
# refCnt 0) and nothing can come to refer to a template being deleted (the count needs it to
# exist). A coupon keeps the number it is counted on as `tmplRef` (REFERENCE); a coupon stored
# before templates existed may carry a tmplIdx without one: it is not counted, and has no text.
REFERENCE = "tmplRef"


class MissingTemplate(Exception):
    """The template a coupon is to refer to does not exist (in this account)."""


def counted(account: str, tmpl_idx: int, delta: int) -> "UpdateTypeDef":
    """The template's count of references moved by `delta`, the template still there."""
    return {
        "TableName": settings.current().table_name,
        "Key": template_key(account, tmpl_idx),
        "UpdateExpression": "SET refCnt = if_not_exists(refCnt, :zero) + :delta",
        "ConditionExpression": "attribute_exists(PK)",
        "ExpressionAttributeValues": values(zero=0, delta=delta),
    }


def count_references(account: str, tmpl_idx: int, delta: int) -> None:
    """`counted` on its own (one UpdateItem): MissingTemplate when there is no template."""
    update = counted(account, tmpl_idx, delta)
    try:
        request(lambda db, _table: db.update_item(**update))
    except ConditionFailed:
        raise MissingTemplate() from None
