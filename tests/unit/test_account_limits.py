"""Fair use between tenants (limits.py): an account's requests a minute, counted across all
containers, with 429/4290 and Retry-After beyond the limit; another account is untouched."""

from collections.abc import Callable, Iterator

import pytest

from coupons import clock, containers, limits
from tests.conftest import Api, Response
from tests.unit.conftest import RequestLog


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    def set_limit(per_minute: int) -> None:
        monkeypatch.setenv("ACCOUNT_REQUESTS_PER_MINUTE", str(per_minute))
        containers.reset()  # settings are read once per container

    yield set_limit
    monkeypatch.undo()
    containers.reset()


@pytest.fixture
def minute_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the test at the start of a minute (the limit counts calendar minutes)."""
    real = clock.now_ms
    offset = 60_000 - real() % 60_000 + 1_000
    monkeypatch.setattr(clock, "now_ms", lambda: real() + offset)


def _refused(answer: Response) -> bool:
    if answer.code != 4290:
        return False
    assert answer.status == 429 and answer.result is None
    assert 0 < int(answer.headers["Retry-After"]) <= 60
    return True


def test_an_account_over_its_limit_gets_429_and_another_does_not(
    api: Api, other_api: Api, limit: Callable[[int], None], minute_start: None
) -> None:
    limit(40)
    answers = [api.validate("NOSUCHCODE") for _ in range(45)]
    assert [a.code for a in answers[:40]] == [4040] * 40
    assert all(_refused(a) for a in answers[40:])
    assert other_api.validate("NOSUCHCODE").code == 4040  # another tenant is not starved


def test_the_limit_holds_across_containers(
    api: Api, limit: Callable[[int], None], minute_start: None
) -> None:
    limit(10)
    codes = [api.validate("NOSUCHCODE").code for _ in range(6)]
    containers.reset()  # the account's next requests land on another container
    codes += [api.validate("NOSUCHCODE").code for _ in range(6)]
    assert codes == [4040] * 10 + [4290] * 2


def test_a_new_minute_brings_a_new_budget(
    api: Api, limit: Callable[[int], None], minute_start: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit(5)
    assert [api.validate("NOSUCHCODE").code for _ in range(6)] == [4040] * 5 + [4290]
    real = clock.now_ms
    monkeypatch.setattr(clock, "now_ms", lambda: real() + 60_000)
    assert api.validate("NOSUCHCODE").code == 4040


def test_a_refused_request_reads_and_writes_nothing_else(
    api: Api, limit: Callable[[int], None], minute_start: None, dynamodb_requests: RequestLog
) -> None:
    code = api.create(useLimit=0).result
    limit(3)
    dynamodb_requests.attach()  # the reset made a new client
    assert api.redeem(code).code == 0
    assert api.redeem(code).code == 0
    assert api.redeem(code).code == 0
    dynamodb_requests.clear()
    assert _refused(api.redeem(code))
    assert "TransactWriteItems" not in dynamodb_requests
    assert api.validate(code).code == 4290  # every route of the account


def test_what_the_limit_costs_per_request(
    api: Api, limit: Callable[[int], None], minute_start: None, dynamodb_requests: RequestLog
) -> None:
    """At the template's 6000 a minute, a container leases 50 requests with one UpdateItem:
    one write per 50 requests while the account is busy."""
    limit(6000)
    dynamodb_requests.attach()
    for _ in range(100):
        assert api.validate("NOSUCHCODE").code == 4040
    assert dynamodb_requests.count("UpdateItem") == 100 // limits.MAX_LEASE
