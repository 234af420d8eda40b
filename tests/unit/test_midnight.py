"""Runs that cross midnight: a test compares its dates with the functions' today only through
`dates` (tests/conftest.py), which reads them from coupons.clock when the test runs and starts
the test a minute or more before midnight. Module constants read at import broke a 15-minute
`make test` that crossed midnight: "tomorrow" had become today by the time the handlers ran
(test_validate_refusals[...-4220], test_dates_refuse_redemption)."""

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from coupons import clock, containers, settings
from devstack.samples import coupon_fields
from tests.conftest import (
    AFTER_NEXT_YEAR,
    TOMORROW,
    WHOLE_DAY_MARGIN_S,
    YESTERDAY,
    Api,
    Dates,
    keep_to_one_day,
)
from tests.unit import test_create, test_requests, test_validate_redeem

NEW_YEARS_DAY = date(2027, 1, 1)


class WallClock:
    """The wall clock as coupons.clock reads it (in place of its `time` module), in the
    deployment's time zone: `before_midnight` seconds before New Year's Day at the first
    reading, each reading 100 ms after the one before; sleep() moves it on."""

    def __init__(self, before_midnight: float = 0.1) -> None:
        midnight = datetime.combine(NEW_YEARS_DAY, datetime.min.time(), self.zone())
        self._next_ns = round((midnight.timestamp() - before_midnight) * 1e9)
        self.slept: list[float] = []

    @staticmethod
    def zone() -> Any:
        return settings.current().time_zone

    def time_ns(self) -> int:
        now, self._next_ns = self._next_ns, self._next_ns + 100_000_000
        return now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._next_ns += round(seconds * 1e9)

    def day(self) -> date:
        return datetime.fromtimestamp(self.time_ns() / 1e9, self.zone()).date()


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    """The functions on a wall clock at 23:59:59.9 of New Year's Eve."""
    wall = WallClock()
    monkeypatch.setattr(clock, "time", wall)
    return wall


def test_a_date_read_before_midnight_is_wrong_for_the_handler_after_it(
    api: Api, wall: WallClock
) -> None:
    """The failure, reproduced: "tomorrow" read at 23:59:59.9 (as the module constants were,
    at import) is today for the handler that runs 100 ms later, so a coupon starting then is
    not refused 4220. It is also why `dates` starts no test in a day's last minute."""
    tomorrow = TOMORROW.of(clock.today()).isoformat()
    code = api.create(strtYmd=tomorrow).result
    assert api.redeem(code).code == 0  # the assertion that failed: 4220 expected
    assert clock.today().isoformat() == tomorrow == NEW_YEARS_DAY.isoformat()


TESTS_THAT_FAILED_AT_MIDNIGHT: list[tuple[str, Any, dict[str, Any]]] = [
    ("dates", test_validate_redeem.test_dates_refuse_redemption, {}),
    ("order", test_validate_redeem.test_refusal_order_when_several_apply, {}),
    ("coupon-object", test_validate_redeem.test_validate_returns_exactly_the_coupon_object, {}),
    (
        "refusal-4220",
        test_validate_redeem.test_validate_refusals,
        {"fields": {"strtYmd": TOMORROW}, "query": {}, "code": 4220},
    ),
    (
        "refusal-4221",
        test_validate_redeem.test_validate_refusals,
        {"fields": {"strtYmd": YESTERDAY, "endYmd": YESTERDAY}, "query": {}, "code": 4221},
    ),
    ("seed-example", test_create.test_seed_page_example_is_accepted, {}),
]


@pytest.mark.parametrize(
    ("test", "params"),
    [(test, params) for _, test, params in TESTS_THAT_FAILED_AT_MIDNIGHT],
    ids=[name for name, _, _ in TESTS_THAT_FAILED_AT_MIDNIGHT],
)
def test_the_tests_that_failed_pass_when_they_start_at_23_59_59_9(
    api: Api, wall: WallClock, test: Any, params: dict[str, Any]
) -> None:
    """What `dates` does before a test, with the wall clock at 23:59:59.9 on New Year's Eve:
    it waits past midnight; the test then reads its dates, and the handlers theirs, on New
    Year's Day."""
    keep_to_one_day(sleep=wall.sleep)
    assert len(wall.slept) == 1 and wall.slept[0] < 1
    test(api=api, dates=Dates(), **params)
    assert clock.today() == NEW_YEARS_DAY and coupon_fields()["strtYmd"] == "2027-01-01"


def test_parsing_reads_the_year_when_the_test_runs(wall: WallClock) -> None:
    """The latest end a coupon may have (December 31 of next year) moves at New Year."""
    keep_to_one_day(sleep=wall.sleep)
    test_requests.test_a_sample_coupon_parses(Dates())
    test_requests.test_coupon_terms_name_the_field_they_refuse(
        Dates(), {"endYmd": AFTER_NEXT_YEAR}, "endYmd"
    )
    assert Dates().ymd(AFTER_NEXT_YEAR) == "2029-01-01"


@pytest.mark.parametrize(
    ("before_midnight", "waits"),
    [(86_000, False), (120, False), (WHOLE_DAY_MARGIN_S, False), (59.9, True), (0.1, True)],
)
def test_a_test_waits_out_the_last_minute_of_a_day(
    monkeypatch: pytest.MonkeyPatch, before_midnight: float, waits: bool
) -> None:
    wall = WallClock(before_midnight)
    monkeypatch.setattr(clock, "time", wall)
    keep_to_one_day(sleep=wall.sleep)
    assert bool(wall.slept) is waits
    if waits:
        assert before_midnight < wall.slept[0] < before_midnight + 0.2
    assert clock.today() == (NEW_YEARS_DAY if waits else NEW_YEARS_DAY - timedelta(days=1))


def test_the_sample_coupon_starts_on_the_functions_today(
    monkeypatch: pytest.MonkeyPatch, fresh_containers: None
) -> None:
    """Not the machine's local day (date.today()): 14 hours ahead of UTC, they differ for most
    of the day."""
    monkeypatch.setenv("TIME_ZONE", "Pacific/Kiritimati")
    containers.reset()  # settings are read once per container
    assert coupon_fields()["strtYmd"] == clock.today().isoformat()
    assert coupon_fields()["endYmd"] == f"{clock.today().year + 1}-12-31"


def test_a_day_is_named_not_dated() -> None:
    """Parametrize ids of the values holding a Day never carry the date of the run."""
    assert repr({"strtYmd": TOMORROW, "endYmd": YESTERDAY}) == (
        "{'strtYmd': tomorrow, 'endYmd': yesterday}"
    )
