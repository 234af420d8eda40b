"""Unit tests run every handler against moto's DynamoDB, the table built from template.yaml.

Every test gets a fresh table (and fresh accounts). A table shared by all tests grew with each
of them, and moto copies the whole table for every transaction (to roll it back on a failed
condition): transactions slowed down as the run went on, and the run's memory reached ~13 GB."""

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from mypy_boto3_dynamodb.client import DynamoDBClient

from devstack.template import table_create_kwargs
from tests.conftest import TABLE_NAME, Api


@pytest.fixture(scope="package")
def mocked_dynamodb() -> Iterator[DynamoDBClient]:
    with mock_aws():
        client: DynamoDBClient = botocore.session.get_session().create_client(  # type: ignore[assignment]
            "dynamodb", region_name="us-east-1"
        )
        yield client


@pytest.fixture
def dynamodb(mocked_dynamodb: DynamoDBClient, fresh_containers: None) -> Iterator[Any]:
    mocked_dynamodb.create_table(**table_create_kwargs(TABLE_NAME))
    yield mocked_dynamodb
    mocked_dynamodb.delete_table(TableName=TABLE_NAME)


@pytest.fixture
def api(dynamodb: Any) -> Api:
    from coupons.accounts import create_account

    return Api(create_account("shop")[1])


@pytest.fixture
def other_api(dynamodb: Any) -> Api:
    from coupons.accounts import create_account

    return Api(create_account("other shop")[1])


@pytest.fixture
def dynamodb_requests(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the DynamoDB API calls the functions make from now on, in order (every
    function of this test shares the container's one client).

    The budgets leave out the API-key lookup of a cold auth cache, so a key, once read, stays
    cached for the whole test: on a loaded machine a test can outlive auth.CACHE_SECONDS (5 s),
    and the re-read GetItem would count as the operation's own."""
    from coupons import auth

    monkeypatch.setattr(auth, "CACHE_SECONDS", 3600.0)
    calls = RequestLog()
    calls.attach()
    return calls


class RequestLog(list[str]):
    """The names of the DynamoDB API calls made through the container's client, in order."""

    def record(self, model: Any, **_: Any) -> None:
        self.append(model.name)

    def attach(self) -> None:
        from coupons.store.client import every_client

        for client in every_client():
            client.meta.events.register("before-call.dynamodb", self.record)

    def new_container(self) -> None:
        """Go on in a fresh container (it has seen no coupon), still recording."""
        from coupons import containers

        containers.reset()
        self.attach()


class ThrottledClient:
    """The store's client, as DynamoDB answers when it throttles every read past the retries."""

    def __init__(self, **_: Any) -> None:  # store_client.client(resend=...)
        pass

    def get_item(self, **kwargs: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
            "GetItem",
        )
