"""Shared test harness: the functions' environment from template.yaml, a way to call any
function's handler with a real HTTP API v2 event, and fresh per-container state per test."""

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from devstack import samples
from devstack.gateway import Gateway, LambdaContext, build_event
from devstack.samples import coupon_fields
from devstack.template import Route, function_environment, routes
from tests import iam_guard

TABLE_NAME = "coupons-test"
os.environ.update(function_environment(TABLE_NAME))
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "CouponApiTests",
    }
)
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
# The per-account request limit (limits.py) leases its counts in chunks, which would put an
# extra UpdateItem at unpredictable places in the requests the tests count; it is off here and
# on in tests/unit/test_account_limits.py (and in make dev and make bench: the template's).
os.environ["ACCOUNT_REQUESTS_PER_MINUTE"] = "0"

iam_guard.watch_every_client()

ROUTES: dict[str, Route] = {r.route_key: r for r in routes()}
# Loads each function's app.py the way `make dev` does; never serves HTTP here.
_FUNCTIONS = Gateway(quiet=True)


def load_handler(route: Route) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    return _FUNCTIONS.handler_for(route)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    # The parsed JSON envelope; an HTML answer (the coupon page, DESIGN 2.8) as its text.
    body: Any

    @property
    def content_type(self) -> str:
        return {k.lower(): v for k, v in self.headers.items()}.get("content-type", "")

    @property
    def code(self) -> int:
        return int(self.body["code"])

    @property
    def result(self) -> Any:
        return self.body["result"]


Transport = Callable[[str, str, dict[str, str], bytes], Response]


def invoke_handler(method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
    """Call the route's handler in-process with the event API Gateway would send."""
    path = target.partition("?")[0]
    found = _FUNCTIONS.match(method, path)  # the gateway's route selection (/c/{token} too)
    assert found is not None  # the template has a $default route
    route = found.route
    event = build_event(
        method=method,
        target=target,
        headers=list(headers.items()),
        body=body,
        route_key=route.route_key,
        path_parameters=found.path_parameters,
    )
    caller = iam_guard.CALLER.set(route.function_logical_id)
    try:
        answer = load_handler(route)(event, LambdaContext(route))
    finally:
        iam_guard.CALLER.reset(caller)
    response = Response(answer["statusCode"], answer["headers"], answer["body"])
    if not response.content_type.startswith("text/html"):
        response.body = json.loads(answer["body"])
    return response


@pytest.fixture(autouse=True)
def _least_privilege() -> Iterator[None]:
    """Every request a function sent was allowed by its policy (tests/iam_guard.py)."""
    iam_guard.VIOLATIONS.clear()
    yield
    assert iam_guard.VIOLATIONS == [], "a function needs a grant template.yaml does not give"


@dataclass
class Api:
    """Calls the API with this account's key: in-process by default, or over HTTP."""

    api_key: str | None
    language: str | None = None
    transport: Transport = invoke_handler

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw_body: bytes | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        all_headers = {"content-type": "application/json", **(headers or {})}
        if self.api_key is not None:
            all_headers.setdefault("authorization", f"APIKey {self.api_key}")
        if self.language:
            all_headers.setdefault("accept-language", self.language)
        if raw_body is None:
            raw_body = b"" if body is None else json.dumps(body).encode()
        target = f"/api/coupon/v1{path}" + (f"?{urlencode(query)}" if query else "")
        response = self.transport(method, target, all_headers, raw_body)
        content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"]
        assert content_type.startswith("application/json")
        return response

    def create(self, **fields: Any) -> Response:
        return self.call("POST", "/create", body=coupon_fields(**fields))

    def create_groups(self, count: int) -> None:
        """Groups 1 ... count in this new account: a coupon names only a group that exists."""
        for number in range(1, count + 1):
            made = self.call("POST", "/group/create", body={"nm": f"Group {number}"})
            assert made.result == number, made.body

    def validate(self, cpn_no: str, **query: str) -> Response:
        return self.call("GET", "/validate", query={"cpnNo": cpn_no, **query})

    def redeem(self, cpn_no: str, **fields: Any) -> Response:
        return self.call("POST", "/redeem", body={"cpnNo": cpn_no, **fields})

    def update(self, cpn_no: str, **fields: Any) -> Response:
        return self.call("PUT", "/update", body={"cpnNo": cpn_no, **fields})

    def delete(self, cpn_no: str) -> Response:
        return self.call("DELETE", "/delete", query={"cpnNo": cpn_no})

    def disable(self, cpn_no: str) -> Response:
        return self.call("POST", "/disable", body={"cpnNo": cpn_no})

    def enable(self, cpn_no: str) -> Response:
        return self.call("POST", "/enable", body={"cpnNo": cpn_no})

    def create_bulk(self, count: int, **fields: Any) -> Response:
        return self.call("POST", "/create/bulk", body={"count": count, **coupon_fields(**fields)})

    def cancel(self, cpn_no: str, rdm_id: str, **fields: Any) -> Response:
        return self.call(
            "POST", "/redeem/cancel", body={"cpnNo": cpn_no, "rdmId": rdm_id, **fields}
        )

    def redemptions(self, cpn_no: str, **query: str) -> Response:
        return self.call("GET", "/redemptions", query={"cpnNo": cpn_no, **query})

    def list(self, **query: str) -> Response:
        return self.call("GET", "/list", query=query)

    def with_key(self, key: str) -> "KeyedApi":
        """The same caller, sending `Idempotency-Key: key` on every request."""
        return KeyedApi(self, key)


@dataclass
class KeyedApi:
    api: Api
    key: str

    def call(self, method: str, path: str, **kwargs: Any) -> Response:
        headers = {"idempotency-key": self.key, **kwargs.pop("headers", {})}
        return self.api.call(method, path, headers=headers, **kwargs)

    def create(self, **fields: Any) -> Response:
        return self.call("POST", "/create", body=coupon_fields(**fields))

    def create_bulk(self, count: int, **fields: Any) -> Response:
        return self.call("POST", "/create/bulk", body={"count": count, **coupon_fields(**fields)})

    def redeem(self, cpn_no: str, **fields: Any) -> Response:
        return self.call("POST", "/redeem", body={"cpnNo": cpn_no, **fields})

    def cancel(self, cpn_no: str, rdm_id: str, **fields: Any) -> Response:
        return self.call(
            "POST", "/redeem/cancel", body={"cpnNo": cpn_no, "rdmId": rdm_id, **fields}
        )


def account_of(api: Api) -> str:
    """The account owning the caller's API key."""
    from coupons import auth
    from coupons.store import accounts

    assert api.api_key
    key = accounts.get_api_key(auth.key_hash(api.api_key))
    assert key is not None
    return key["account"]


def reset_containers() -> None:
    """Forget what warm containers remember (client, settings, key cache, seen coupons)."""
    from coupons import containers

    containers.reset()


@pytest.fixture
def fresh_containers() -> Iterator[None]:
    reset_containers()
    yield
    reset_containers()


def stored_redemptions(api: Api, cpn_no: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The redemption records stored under the code, read straight from the table (strongly
    consistent): (those on the coupon item, those moved to items of their own, also a
    deleted coupon's)."""
    from coupons import settings
    from coupons.store.client import client
    from coupons.store.items import from_item
    from coupons.store.keys import COUPON_SK, REDEMPTION_PREFIX, coupon_pk
    from coupons.store.redemptions import inline_records

    response = client().query(
        TableName=settings.current().table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": coupon_pk(account_of(api), cpn_no)}},
        ConsistentRead=True,
    )
    items = [from_item(item) or {} for item in response["Items"]]
    moved = [item for item in items if str(item["SK"]).startswith(REDEMPTION_PREFIX)]
    coupon = next((item for item in items if item["SK"] == COUPON_SK), {})
    return [dict(record) for record in inline_records(coupon)], moved


# --- dates as the functions see them ---------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """A day named from the functions' today, for values fixed before the test runs (at import,
    in parametrize): Dates.ymd and Dates.fill make it a YYYY-MM-DD when the test runs. Its repr
    is its name, never a date, so the ids of the tests that take one are the same every day."""

    name: str
    of: Callable[[date], date]  # the day, given today

    def __repr__(self) -> str:
        return self.name


TODAY = Day("today", lambda today: today)
TOMORROW = Day("tomorrow", lambda today: today + timedelta(days=1))
YESTERDAY = Day("yesterday", lambda today: today - timedelta(days=1))
NEXT_YEAR_END = Day("December 31 of next year", lambda today: date(today.year + 1, 12, 31))
# The first day past the latest end a coupon may have (rules.latest_end_date).
AFTER_NEXT_YEAR = Day("January 1 of the year after next", lambda today: date(today.year + 2, 1, 1))

# Longer than any test runs: those that take dates run for ~18 s at most (the rule matrix of
# test_condition_matches_rules.py on DynamoDB Local).
WHOLE_DAY_MARGIN_S = 60.0


def keep_to_one_day(
    margin_s: float = WHOLE_DAY_MARGIN_S, sleep: Callable[[float], object] = time.sleep
) -> None:
    """Return when the functions' clock is at least `margin_s` from its next midnight (in the
    deployment's time zone, TIME_ZONE), sleeping past that midnight if it is closer: a test that
    starts then ends on the day it started on. The clock itself is not moved: powertools'
    idempotency utility dates its records by the wall clock, and the store compares them with
    coupons.clock, so the two must agree."""
    from coupons import clock

    now = clock.now()
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    left = midnight.timestamp() - now.timestamp()
    if left < margin_s:
        sleep(left + 0.01)


class Dates:
    """The dates a test gives the functions, from the clock they read (coupons.clock, through
    whatever the test put on it) when the test asks: never from the wall clock or at import."""

    def today(self) -> date:
        from coupons import clock

        return clock.today()

    def ymd(self, day: Day = TODAY) -> str:
        """The YYYY-MM-DD of `day`."""
        return day.of(self.today()).isoformat()

    def fill(self, fields: dict[str, Any]) -> dict[str, Any]:
        """`fields` with each Day value as its YYYY-MM-DD."""
        return {k: self.ymd(v) if isinstance(v, Day) else v for k, v in fields.items()}


@pytest.fixture
def dates() -> Dates:
    """Dates for a test that compares them with the functions' today: the test starts a minute
    or more before midnight (waiting for the new day otherwise), so the handlers' today is the
    same from its first line to its last, even in a run that crosses midnight."""
    keep_to_one_day()
    return Dates()


class _ClockDate(date):
    """`date` for devstack.samples: its today() is the functions' (coupon_fields' strtYmd)."""

    @classmethod
    def today(cls) -> "_ClockDate":
        from coupons import clock

        return cls.fromordinal(clock.today().toordinal())


@pytest.fixture(autouse=True)
def _coupon_fields_on_the_functions_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """coupon_fields() (devstack/samples.py) starts its coupons on today by date.today(), the
    machine's local day: in a test, the functions' today instead (coupons.clock, TIME_ZONE),
    so the sample coupon has started for them however the machine's time zone is set."""
    monkeypatch.setattr(samples, "date", _ClockDate)
