"""Accounts (with the secret that signs their cursors) and their API keys (stored only as
SHA-256 hashes)."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, cast

from coupons import settings
from coupons.records import AccountRecord, ApiKeyRecord
from coupons.store.client import Cancelled, ConditionFailed, get_many, request, transact
from coupons.store.items import AttributeMap, Item, from_item, key, to_item, values
from coupons.store.keys import account_pk, api_key_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        QueryInputTypeDef,
        QueryOutputTypeDef,
        ScanInputTypeDef,
        ScanOutputTypeDef,
        UpdateTypeDef,
    )

    type Page = QueryOutputTypeDef | ScanOutputTypeDef

ACCOUNT_SK = "ACCOUNT"
API_KEY_SK = "KEY"
# The admin's list of keys: one partition, an item per key (SK <keyId>#<hash>), so that
# list-keys and revoke-key are Queries, never a scan of the table.
API_KEY_LIST_PK = "KEYS"
BATCH_GET_LIMIT = 100  # keys per BatchGetItem


def _api_key(item: Item | None) -> ApiKeyRecord | None:
    if item is None:
        return None
    hashed = str(item["PK"]).removeprefix("KEY#")
    return cast(ApiKeyRecord, {**_without_keys(item), "keyHash": hashed})


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
    if not _put_if_absent(to_item({"PK": account_pk(account), "SK": ACCOUNT_SK, **record})):
        raise ConditionFailed(None)  # account ids are random: a clash is a bug


def get_account(account: str, *, consistent: bool = True) -> AccountRecord | None:
    response = request(
        lambda db, table: db.get_item(
            TableName=table, Key=key(account_pk(account), ACCOUNT_SK), ConsistentRead=consistent
        )
    )
    item = from_item(response.get("Item"))
    return None if item is None else cast(AccountRecord, item)


def get_accounts(accounts: Sequence[str]) -> list[AccountRecord]:
    """Admin only: the accounts of these ids that exist (BatchGetItems, strongly consistent; no
    order). The records carry the cursor key: it must not be shown."""
    keys = [key(account_pk(account), ACCOUNT_SK) for account in dict.fromkeys(accounts)]
    return [
        cast(AccountRecord, _without_keys(item))
        for start in range(0, len(keys), BATCH_GET_LIMIT)
        for item in get_many(keys[start : start + BATCH_GET_LIMIT], consistent=True)
    ]


def add_cursor_key(account: str, cursor_key: str) -> bool:
    """Give an account created before cursors existed its cursor key (kept if it has one)."""
    return _update_existing(
        key(account_pk(account), ACCOUNT_SK),
        "SET cursorKey = if_not_exists(cursorKey, :secret)",
        secret=cursor_key,
    )


def put_api_key(key_hash: str, account: str, key_id: str, created: str) -> None:
    """The key (looked up by its hash on every request) and its entry in the admin's key list,
    in one transaction."""
    record = {"account": account, "keyId": key_id, "created": created, "revoked": False}
    table = settings.current().table_name
    new = "attribute_not_exists(PK)"
    transact(
        [
            {
                "Put": {
                    "TableName": table,
                    "Item": _key_item(key_hash, record),
                    "ConditionExpression": new,
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": _listed_item(key_hash, record),
                    "ConditionExpression": new,
                }
            },
        ]
    )


def _key_item(key_hash: str, record: Mapping[str, object]) -> AttributeMap:
    return to_item({"PK": api_key_pk(key_hash), "SK": API_KEY_SK, **record})


def _listed_item(key_hash: str, record: Mapping[str, object]) -> AttributeMap:
    listed = {"PK": API_KEY_LIST_PK, "SK": f"{record['keyId']}#{key_hash}", **record}
    return to_item(listed)


def list_api_keys(account: str | None = None, key_id: str = "") -> list[ApiKeyRecord]:
    """Admin only: the key list (optionally one account's, or the keys whose id starts with
    `key_id`): Queries of its one partition, never a scan of the table."""

    def query_page(start: AttributeMap | None, db: "DynamoDBClient", table: str) -> "Page":
        params: QueryInputTypeDef = {
            "TableName": table,
            "KeyConditionExpression": "PK = :pk" + (" AND begins_with(SK, :id)" if key_id else ""),
            "ExpressionAttributeValues": values(
                pk=API_KEY_LIST_PK,
                **({"id": key_id + "#"} if key_id else {}),
                **({"account": account} if account else {}),
            ),
            "ConsistentRead": True,
        }
        if account:
            params["FilterExpression"] = "account = :account"
        if start is not None:
            params["ExclusiveStartKey"] = start
        return db.query(**params)

    return [
        cast(ApiKeyRecord, {**_without_keys(item), "keyHash": str(item["SK"]).partition("#")[2]})
        for item in _every_item(query_page)
    ]


def revoke_api_key(key_hash: str, key_id: str) -> bool:
    """Revoke the key and mark it so in the key list, in one transaction; False if there is
    no such key."""
    table = settings.current().table_name
    try:
        transact(
            [
                {"Update": _revoked(table, key(api_key_pk(key_hash), API_KEY_SK))},
                {"Update": _revoked(table, key(API_KEY_LIST_PK, f"{key_id}#{key_hash}"))},
            ]
        )
    except Cancelled:
        return False
    return True


def _revoked(table: str, item_key: AttributeMap) -> "UpdateTypeDef":
    return {
        "TableName": table,
        "Key": item_key,
        "UpdateExpression": "SET revoked = :yes",
        "ConditionExpression": "attribute_exists(PK)",
        "ExpressionAttributeValues": values(yes=True),
    }


def add_to_key_list(record: ApiKeyRecord) -> bool:
    """Put a key created before the key list into it; False if it is listed already."""
    listed = {k: v for k, v in record.items() if k != "keyHash"}
    return _put_if_absent(_listed_item(record["keyHash"], listed))


def list_unlisted_keys() -> int:
    """One-off migration for keys created before the key list: add each API key item to the
    list. Scans the table once (the only scan anywhere); returns how many were added."""

    def scan_page(start: AttributeMap | None, db: "DynamoDBClient", table: str) -> "Page":
        params: ScanInputTypeDef = {
            "TableName": table,
            "FilterExpression": "SK = :sk",
            "ExpressionAttributeValues": values(sk=API_KEY_SK),
        }
        if start is not None:
            params["ExclusiveStartKey"] = start
        return db.scan(**params)

    records = (_api_key(item) for item in _every_item(scan_page))
    return sum(add_to_key_list(record) for record in records if record is not None)


def _every_item(
    read_page: "Callable[[AttributeMap | None, DynamoDBClient, str], Page]",
) -> Iterator[Item]:
    """Every item of a Query or Scan, one page after another (`read_page(start, ...)` reads
    the page that starts after `start`)."""
    start: AttributeMap | None = None
    while True:
        response = request(partial(read_page, start))
        yield from (item for item in map(from_item, response.get("Items", [])) if item)
        start = response.get("LastEvaluatedKey")
        if start is None:
            return


def _without_keys(item: Item) -> Item:
    return {name: value for name, value in item.items() if name not in ("PK", "SK")}


def _put_if_absent(item: AttributeMap) -> bool:
    try:
        request(
            lambda db, table: db.put_item(
                TableName=table, Item=item, ConditionExpression="attribute_not_exists(PK)"
            )
        )
    except ConditionFailed:
        return False
    return True


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
