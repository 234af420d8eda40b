"""Accounts (with the secret that signs their cursors) and their API keys (stored only as
SHA-256 hashes)."""

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from coupons.records import AccountRecord, ApiKeyRecord
from coupons.store.client import ConditionFailed, request
from coupons.store.items import AttributeMap, Item, from_item, key, to_item, values
from coupons.store.keys import account_pk, api_key_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import ScanInputTypeDef, ScanOutputTypeDef

ACCOUNT_SK = "ACCOUNT"
API_KEY_SK = "KEY"


def _api_key(item: Item | None) -> ApiKeyRecord | None:
    if item is None:
        return None
    record = {name: value for name, value in item.items() if name not in ("PK", "SK")}
    return cast(ApiKeyRecord, {**record, "keyHash": str(item["PK"]).removeprefix("KEY#")})


def get_api_key(key_hash: str) -> ApiKeyRecord | None:
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=key(api_key_pk(key_hash), API_KEY_SK), ConsistentRead=False
        )
    )
    return _api_key(from_item(response.get("Item")))


def put_account(account: str, name: str, created: str, cursor_key: str) -> None:
    """`cursor_key` signs the account's pagination cursors (secret, never shown)."""
    record: AccountRecord = {
        "account": account,
        "name": name,
        "created": created,
        "cursorKey": cursor_key,
    }
    _put_new(account_pk(account), ACCOUNT_SK, record)


def get_account(account: str, *, consistent: bool = True) -> AccountRecord | None:
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=key(account_pk(account), ACCOUNT_SK), ConsistentRead=consistent
        )
    )
    item = from_item(response.get("Item"))
    return None if item is None else cast(AccountRecord, item)


def add_cursor_key(account: str, cursor_key: str) -> bool:
    """Give an account created before cursors existed its cursor key (kept if it has one)."""
    return _update_existing(
        key(account_pk(account), ACCOUNT_SK),
        "SET cursorKey = if_not_exists(cursorKey, :secret)",
        secret=cursor_key,
    )


def put_api_key(key_hash: str, account: str, key_id: str, created: str) -> None:
    _put_new(
        api_key_pk(key_hash),
        API_KEY_SK,
        {"account": account, "keyId": key_id, "created": created, "revoked": False},
    )


def list_api_keys(account: str | None = None) -> list[ApiKeyRecord]:
    """Admin only: every key record (optionally of one account). Scans; never on a route."""
    condition = "SK = :sk" + (" AND account = :account" if account else "")
    attrs = values(sk=API_KEY_SK, **({"account": account} if account else {}))
    records: list[ApiKeyRecord] = []
    start: AttributeMap | None = None

    def scan_page(db: "DynamoDBClient", table: str) -> "ScanOutputTypeDef":
        params: ScanInputTypeDef = {
            "TableName": table,
            "FilterExpression": condition,
            "ExpressionAttributeValues": attrs,
        }
        if start is not None:
            params["ExclusiveStartKey"] = start
        return db.scan(**params)

    while True:
        response = request(scan_page)
        for item in map(from_item, response.get("Items", [])):
            record = _api_key(item)
            if record is not None:
                records.append(record)
        start = response.get("LastEvaluatedKey")
        if start is None:
            return records


def revoke_api_key(key_hash: str) -> bool:
    return _update_existing(key(api_key_pk(key_hash), API_KEY_SK), "SET revoked = :yes", yes=True)


def _put_new(pk: str, sk: str, record: Mapping[str, object]) -> None:
    item = to_item({"PK": pk, "SK": sk, **record})
    request(
        lambda db, table: db.put_item(
            TableName=table, Item=item, ConditionExpression="attribute_not_exists(PK)"
        )
    )


def _update_existing(item_key: AttributeMap, expression: str, **named: object) -> bool:
    """Apply `expression` to the item at `item_key` if there is one; False if there is none."""
    try:
        request(
            lambda db, table: db.update_item(
                TableName=table,
                Key=item_key,
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=values(**named),
            )
        )
    except ConditionFailed:
        return False
    return True
