"""The container's DynamoDB client, and `request`: the one place that turns DynamoDB's
refusals into ours (a failed condition, a cancelled transaction, throttling, a conflict with a
running transaction) and retries what can be retried."""

import random
import time
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as StorageConnectionError
from botocore.loaders import Loader

from coupons import containers, settings
from coupons.errors import storage_busy
from coupons.store.items import AttributeMap, Item, from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

THROTTLING_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
# A transaction cancelled by throttling names it per item, with these reason codes.
THROTTLING_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})
# DynamoDB answering 5xx: the request may or may not have been applied; like a timeout, the
# client's retry (with the same Idempotency-Key) is what settles it.
SERVICE_ERRORS = frozenset({"InternalServerError", "ServiceUnavailable"})
FIRST_SERVER_ERROR = 500
# How often a request refused by a conflicting transaction (or a batch left unfinished) is
# tried again, with backoff.
ATTEMPTS = 8
# Every request's time is bounded so that the function answers inside its own timeout (10 s,
# template.yaml) with room to spare: at most SDK_ATTEMPTS attempts, each at most CONNECT_TIMEOUT
# to connect and READ_TIMEOUT for the answer, with the SDK's backoff (at most 1 s) between them:
# 2 x (1 + 2) + 1 = 7 s. botocore's defaults (60 s each, several attempts) would leave a silent
# DynamoDB to Lambda's timeout, answered outside our envelope. A warm DynamoDB answers in a few
# ms (make bench); a 100-item transaction in a few hundred.
CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 2.0
SDK_ATTEMPTS = 2
WORST_CASE_S = SDK_ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + (SDK_ATTEMPTS - 1) * 1.0

type Reason = Mapping[str, Any]


class ConditionFailed(Exception):
    """A conditional write was refused; `old` is the item as it was (None if absent)."""

    def __init__(self, old: Item | None) -> None:
        super().__init__("condition failed")
        self.old = old


class Cancelled(Exception):
    """A transaction refused by a condition: one reason per action, in order (a reason of a
    failed condition carries the old item, when the action asked for it)."""

    def __init__(self, reasons: Sequence[Reason]) -> None:
        super().__init__("transaction cancelled")
        self.reasons = list(reasons)

    def failed(self, position: int) -> bool:
        return bool(self.reasons) and self.reasons[position].get("Code") == "ConditionalCheckFailed"

    def old(self, position: int) -> Item | None:
        return from_item(self.reasons[position].get("Item")) if self.reasons else None


class Unfinished(Exception):
    """Raised by a request's sender when DynamoDB left part of a batch undone: try again."""


class _DynamoDBOnlyLoader(Loader):
    """Before loading a service's model, botocore checks the name against every service it
    ships, listing some 400 folders and stat-ing their files: about half of creating the
    client (~50 ms of INIT). This container only ever loads DynamoDB's models."""

    def list_available_services(self, type_name: str) -> list[str]:
        return ["dynamodb"]


# A write that must not happen twice and has no idempotency token (request(resend=False): an
# UpdateItem that counts a use or gives one back) goes through a client that never sends a
# request again, so that an answer lost after DynamoDB applied it is a 503, not a second use.
# A transaction has a token (botocore fills in ClientRequestToken): the SDK may resend it.
@cache
def client(*, resend: bool = True) -> "DynamoDBClient":
    """One client per container (and one that never sends a request twice, created the first
    time a write asks for it: ~3 ms, from the same session). botocore directly: it is the same
    client boto3 would build, without importing boto3 at cold start. The endpoint comes from
    AWS_ENDPOINT_URL_DYNAMODB when set (DynamoDB Local)."""
    if not resend:
        return _client(_session(), attempts=1)
    return _client(_session(), attempts=SDK_ATTEMPTS)


def every_client() -> "tuple[DynamoDBClient, DynamoDBClient]":
    """Both clients of the container, for what watches every request sent (tests, bench)."""
    return client(), client(resend=False)


@cache
def _session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", _DynamoDBOnlyLoader())
    return session


def _client(session: botocore.session.Session, *, attempts: int) -> "DynamoDBClient":
    made = session.create_client(
        "dynamodb",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            tcp_keepalive=True,
            max_pool_connections=50,  # the local gateway runs many requests per process
        ),
    )
    return cast("DynamoDBClient", made)


containers.on_reset(_session.cache_clear)
containers.on_reset(client.cache_clear)


def request[T](
    send: "Callable[[DynamoDBClient, str], T]", *, attempts: int = ATTEMPTS, resend: bool = True
) -> T:
    """Run one DynamoDB request, `send(client, table_name)`, and translate its refusals:
    - a failed condition: ConditionFailed with the old item;
    - a transaction cancelled by a condition: Cancelled with the reasons;
    - throttling (of the request, or of an item in a transaction), DynamoDB's 5xx, a connection
      that fails or an answer that does not come in time: 503/5030 (the SDK has already
      retried within its budget, see WORST_CASE_S);
    - a conflict with a running transaction (a single-item write to an item inside one, which
      botocore does not retry, or a transaction cancelled only by conflicts) or an Unfinished
      batch: tried again with backoff, up to `attempts` times, then 503/5030.
    Without `resend`, the SDK sends it once, and only this function tries it again (when it
    was not applied)."""
    for attempt in range(attempts):
        try:
            db = client() if resend else client(resend=False)  # cache keys: one call each
            return send(db, settings.current().table_name)
        except ClientError as error:
            _raise_unless_retryable(error)
        except (StorageConnectionError, HTTPClientError) as error:  # refused, timed out, cut
            raise storage_busy() from error
        except Unfinished:
            pass
        backoff(attempt)
    raise storage_busy()


def transact(
    actions: "Sequence[TransactWriteItemTypeDef]", *, attempts: int = ATTEMPTS, resend: bool = True
) -> None:
    """TransactWriteItems, all or nothing; refusals and options as in `request`."""
    request(
        lambda db, _table: db.transact_write_items(TransactItems=actions),
        attempts=attempts,
        resend=resend,
    )


def get_many(keys: "Sequence[AttributeMap]", *, consistent: bool = False) -> list[Item]:
    """The items at `keys` that exist (in no particular order): one BatchGetItem, again for
    the keys DynamoDB left unprocessed."""
    pending = list(keys)
    found: list[Item] = []

    def send(db: "DynamoDBClient", table: str) -> None:
        nonlocal pending
        response = db.batch_get_item(
            RequestItems={table: {"Keys": pending, "ConsistentRead": consistent}}
        )
        found.extend(item for item in map(from_item, response["Responses"].get(table, [])) if item)
        unprocessed = response.get("UnprocessedKeys", {}).get(table)
        pending = list(unprocessed["Keys"]) if unprocessed else []
        if pending:
            raise Unfinished

    if pending:
        request(send)
    return found


def _raise_unless_retryable(error: ClientError) -> None:
    response: Mapping[str, Any] = error.response
    code = response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        raise ConditionFailed(from_item(response.get("Item"))) from None
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in THROTTLING_ERRORS or code in SERVICE_ERRORS or status >= FIRST_SERVER_ERROR:
        raise storage_busy() from error
    if code == "TransactionConflictException":
        return
    if code == "TransactionCanceledException":
        reasons = response.get("CancellationReasons", [])
        codes = {reason.get("Code") for reason in reasons}
        if "TransactionConflict" in codes and "ConditionalCheckFailed" not in codes:
            return
        if codes & THROTTLING_REASONS:
            raise storage_busy() from error
        raise Cancelled(reasons) from None
    raise error


def backoff(attempt: int) -> None:
    """A pause before attempt `attempt` + 1 of a refused request, growing and jittered."""
    time.sleep(random.uniform(0, 0.01 * 2**attempt))
