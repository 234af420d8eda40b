"""Fuzzing: schemathesis sends generated requests (valid and invalid) to every operation of
openapi.yaml, through the local gateway, on DynamoDB Local, with a real account's key.

Whatever it sends, the API answers in the envelope, never with a 5xx, and as the document
says: a documented status, the documented code for that status, the documented body and
headers. Bounded and reproducible: MAX_EXAMPLES generated cases per operation (plus the
document's own examples), derandomized, no example database.
"""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coupons.errors import ErrorCode
from coupons.messages import CATALOG
from devstack.openapi import (
    BASE_PATH,
    EXAMPLE_CODE,
    GROUP_EXAMPLE,
    GRP_IDX,
    OPENAPI_PATH,
    OPERATIONS,
    TEMPLATE_EXAMPLE,
    TMPL_IDX,
)
from tests.conftest import Api

MAX_EXAMPLES = 50
# Each operation gets at least this many cases, or the run proves little.
MIN_CASES = 25
CONFIG = schemathesis.Config.from_dict(
    {
        # The document's examples, then generated cases. Left out to stay bounded: coverage
        # (every boundary of every field and parameter; here ~1,100 more requests, ~70 s)
        # and stateful runs.
        "phases": {
            "examples": {"enabled": True},
            "fuzzing": {"enabled": True},
            "coverage": {"enabled": False},
            "stateful": {"enabled": False},
        },
        # Valid and invalid requests; the key is ours (below), never generated.
        "generation": {"mode": "all", "with-security-parameters": False},
    }
)
schema = schemathesis.openapi.from_path(OPENAPI_PATH, config=CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# The template the examples name (?tmplIdx=, update's body): the account's first.
TEMPLATE_IDX = 1
assert TMPL_IDX.example == TEMPLATE_IDX == GROUP_EXAMPLE["tmplIdx"]
# The group the examples name (?grpIdx=, update's body, bulk create's): the account's first.
GROUP_IDX = 1
assert GRP_IDX.example == GROUP_IDX
# The account's webhook (DESIGN 2.9), so that get, rotate-secret and PUT's "changed" answer
# reach a real one: https to a public address given as an IP literal, which needs no DNS (the
# tests run offline; a name is resolved when set); paused, so nothing is ever sent to it. A
# fuzzed PUT may set another: a URL that is not https to a public address, or whose name does
# not resolve, is 4001, never 500. No stream runs here, so deliveries stay empty and redeliver
# answers 4045 (tests/unit/test_webhook*.py deliver for real).
WEBHOOK = {"url": "https://93.184.215.14/hooks/coupons", "enabled": False}
# Cases run per operation (label), for test_every_operation_was_fuzzed.
CASES: Counter[str] = Counter()


@pytest.fixture
def fuzzed_account(api: Api) -> Api:
    """A fresh account per operation, with the examples' coupon (unlimited, valid today, a
    shared code counted per user, redeemed twice: once for an order, once without) and a few
    others, so examples and lists reach real coupons and the checkout rules (DESIGN 2.6); and
    the examples' template (tmplIdx 1, which the coupon shows) and a second one, so that get,
    update, list and delete reach real templates; and the examples' group (grpIdx 1, with
    template 1, which the coupon and the bulk coupons are in) and a second, empty one, so that
    get, update, list and delete reach real groups (DESIGN 2.7); and a webhook (WEBHOOK)."""
    for text in (TEMPLATE_EXAMPLE, {"nm": "Gift card"}):
        made = api.call("POST", "/template/create", body=text)
        assert made.code == 0, made.body
    assert made.result == TEMPLATE_IDX + 1
    for fields in (GROUP_EXAMPLE, {"nm": "Gift cards"}):
        made = api.call("POST", "/group/create", body=fields)
        assert made.code == 0, made.body
    assert made.result == GROUP_IDX + 1
    assert (
        api.create(
            cpnNo=EXAMPLE_CODE,
            useLimit=0,
            perUserLimit=1000,
            memo="fuzz",
            tmplIdx=TEMPLATE_IDX,
            grpIdx=GROUP_IDX,
        ).code
        == 0
    )
    assert api.redeem(EXAMPLE_CODE, userId="att78z", memo="first").code == 0
    priced = api.redeem(EXAMPLE_CODE, userId="att78z", amount=25.5, currency="USD")
    assert (priced.code, priced.result["discAmt"]) == (0, 5)
    assert api.create(discTypeIdx=457, disc=10, minOrderAmt=20, maxDiscAmt=15).code == 0
    assert api.create_bulk(3, grpIdx=GROUP_IDX, userId="u1", useLimit=2).code == 0
    webhook = api.call("PUT", "/webhook", body=WEBHOOK)
    assert webhook.code == 0 and webhook.result["secret"], webhook.body
    return api


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # One account per operation, shared by its cases on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_fuzz(
    case: schemathesis.Case[Any],
    fuzzed_account: Api,
    gateway_url: str,
    session: requests.Session,
) -> None:
    CASES[case.operation.label] += 1
    headers = {"Authorization": f"APIKey {fuzzed_account.api_key}"}
    response = case.call(base_url=gateway_url + BASE_PATH, headers=headers, session=session)
    case.validate_response(response, checks=CHECKS, headers=headers)
    body = response.json()
    assert isinstance(body, dict)
    assert {"code", "message", "result"} <= set(body) <= {"code", "message", "result", "errors"}
    code = ErrorCode(body["code"])
    assert response.status_code == CATALOG[code][0]
    if code != ErrorCode.OK:
        assert body["result"] is None and body["message"]


def test_every_operation_was_fuzzed() -> None:
    """Runs after test_fuzz (file order): every operation got its share of cases."""
    labels = {f"{op.method} {op.path}" for op in OPERATIONS}
    if set(CASES) != labels:
        pytest.skip("test_fuzz did not run for every operation (run the whole module)")
    assert min(CASES.values()) >= MIN_CASES, dict(CASES)
