"""Requests parsed at the edge, without storage: the bodies (models.py) and the
query strings (queries.py). Each refusal names the field, as the 4001 answer will."""

from typing import Any

import pytest

from coupons import clock, models, queries
from coupons.errors import CouponError, ErrorCode
from devstack.samples import coupon_fields
from tests.conftest import AFTER_NEXT_YEAR, Dates


def _refused_fields(model: type[models.Body], data: Any) -> list[str]:
    with pytest.raises(CouponError) as refused:
        models.parse(model, data, today=clock.today())  # the day the sample coupon starts
    assert refused.value.code is ErrorCode.INVALID_FIELD
    return [error.field for error in refused.value.errors]


def test_a_sample_coupon_parses(dates: Dates) -> None:
    request = models.parse(models.CreateRequest, coupon_fields(), today=dates.today())
    assert request.cpnNo == "" and request.cpnNoDigits == 16


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"discTypeIdx": 457, "disc": 101}, "disc"),
        ({"discTypeIdx": 458, "disc": 5, "discCurrency": ""}, "discCurrency"),
        ({"discTypeIdx": 458, "disc": 5.5, "discCurrency": "KRW"}, "disc"),  # no minor unit
        ({"useLimit": 2, "userId": ""}, "userId"),
        ({"endYmd": AFTER_NEXT_YEAR}, "endYmd"),  # after December 31 of next year
        ({"strtYmd": "2026-02-30"}, "strtYmd"),
        ({"useLimit": "1"}, "useLimit"),  # strict: no coercion
        ({"nm": "bell\x07"}, "nm"),
    ],
)
def test_coupon_terms_name_the_field_they_refuse(
    dates: Dates, fields: dict[str, Any], field: str
) -> None:
    assert _refused_fields(models.CreateRequest, coupon_fields(**dates.fill(fields))) == [field]


def test_update_edits_are_the_term_fields_sent_and_not_null(dates: Dates) -> None:
    request = models.parse(
        models.UpdateRequest,
        {"cpnNo": "ABCD-2345", "memo": "vip", "nm": None, "unknown": 1, "useCnt": 9},
        today=dates.today(),
    )
    assert request.cpnNo == "ABCD-2345"
    assert request.edits == {"memo": "vip"}  # null is unchanged; non-terms are ignored


def test_a_cancel_needs_an_rdm_id_redeem_returned() -> None:
    assert _refused_fields(models.CancelRequest, {"cpnNo": "ABCD2345", "rdmId": "x" * 24}) == [
        "rdmId"
    ]


def test_a_body_that_is_not_an_object_is_4001_on_the_body() -> None:
    assert _refused_fields(models.RedeemRequest, ["ABCD2345"]) == ["body"]


def test_query_strings_parse_and_normalize() -> None:
    assert queries.ValidateQuery.parse({"cpnNo": "abcd-2345", "userId": " u1 "}) == (
        queries.ValidateQuery("ABCD2345", "u1")
    )
    assert queries.ListQuery.parse({}) == queries.ListQuery(20, None, None, None)
    assert queries.ListQuery.parse({"limit": "100", "grpIdx": "0", "userId": ""}) == (
        queries.ListQuery(100, None, 0, None)
    )


@pytest.mark.parametrize(
    ("query", "params", "field"),
    [
        (queries.ListQuery, {"limit": "0"}, "limit"),
        (queries.ListQuery, {"limit": "1e2"}, "limit"),
        (queries.ListQuery, {"grpIdx": "-1"}, "grpIdx"),
        (queries.ListQuery, {"grpIdx": "٣"}, "grpIdx"),  # a digit, but not ASCII
        (queries.HistoryQuery, {"cpnNo": "ABCD2345", "limit": "101"}, "limit"),
        (queries.ValidateQuery, {"cpnNo": "ABCD2345", "userId": "u" * 101}, "userId"),
        (queries.CodeQuery, {}, "cpnNo"),
    ],
)
def test_query_strings_name_the_field_they_refuse(
    query: type[
        queries.ListQuery | queries.HistoryQuery | queries.ValidateQuery | queries.CodeQuery
    ],
    params: dict[str, str],
    field: str,
) -> None:
    with pytest.raises(CouponError) as refused:
        query.parse(params)
    assert [error.field for error in refused.value.errors] == [field]
