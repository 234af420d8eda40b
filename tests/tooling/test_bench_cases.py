"""`make bench`'s per-case table (devstack/bench_cases.py): the units it bills and the bodies
it sends, without DynamoDB Local (the bench itself reports; it asserts nothing)."""

import itertools
from typing import Any, cast

import pytest

from devstack.bench_cases import KINDS, Cases, Sent
from tests.unit.test_cold_start import KINDS as GUARDED_KINDS

TRANSACTION = "TransactWriteItems"


def test_the_bench_measures_every_kind_the_request_count_guard_covers() -> None:
    def fields(kinds: dict[str, dict[str, Any]]) -> list[str]:
        return sorted(repr(sorted(each.items())) for each in kinds.values())

    assert fields(KINDS) == fields(GUARDED_KINDS)


@pytest.mark.parametrize(
    ("calls", "coupon_bytes", "writes", "reads"),
    [
        ([("UpdateItem", 1, False)], 700, 1, 0.0),
        ([("UpdateItem", 1, False)], 1500, 2, 0.0),  # a coupon over 1 KB: 2 units a write
        ([(TRANSACTION, 2, False)], 700, 4, 0.0),  # per customer: the coupon and the count
        ([(TRANSACTION, 2, False)], 1500, 6, 0.0),  # the count stays 1 unit, twice
        ([("UpdateItem", 1, False), (TRANSACTION, 2, False)], 700, 5, 0.0),  # refused first
        ([(TRANSACTION, 2, False), (TRANSACTION, 3, False)], 700, 10, 0.0),  # with a key
        ([("GetItem", 1, False), (TRANSACTION, 2, False)], 700, 4, 0.5),  # a read: no write
        ([("GetItem", 1, True)], 5000, 0, 2.0),  # strongly consistent, 2 x 4 KB started
    ],
)
def test_billed_units(
    calls: list[tuple[str, int, bool]], coupon_bytes: int, writes: int, reads: float
) -> None:
    sent = Sent(calls)
    assert sent.billed_writes(coupon_bytes) == writes
    assert sent.read_units(coupon_bytes) == reads


class _Bench:
    def __init__(self) -> None:
        self.counter = itertools.count()

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}"


def test_each_redeem_body_is_one_a_checkout_would_send() -> None:
    cases = Cases(cast(Any, _Bench()), "account")
    customers = {cases._body("shared, once per customer", "C")["userId"] for _ in range(3)}
    assert len(customers) == 3  # a customer may use it once: a new one each time
    minimum = cases._body("with a minimum order", "C")
    assert minimum["amount"] >= KINDS["with a minimum order"]["minOrderAmt"]
    assert cases._body("multi-use, userId", "C")["userId"] == KINDS["multi-use, userId"]["userId"]
    assert cases._body("single-use", "C") == {"cpnNo": "C"}
