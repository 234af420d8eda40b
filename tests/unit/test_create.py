"""POST /create: every field rule of DESIGN 2.3, code handling, and the envelope."""

from typing import Any

import pytest

from coupons import rules
from devstack.samples import coupon_fields
from tests.conftest import AFTER_NEXT_YEAR, NEXT_YEAR_END, Api, Dates


def test_create_returns_the_code_and_stores_the_coupon(api: Api) -> None:
    created = api.create(cpnNo="v5h8-gr5t", memo="signup", userId="att78z")
    assert (created.status, created.body) == (200, {"code": 0, "message": "", "result": "V5H8GR5T"})
    coupon = api.validate("V5H8GR5T").result
    assert coupon["memo"] == "signup" and coupon["userId"] == "att78z"
    assert coupon["useCnt"] == 0


@pytest.mark.parametrize("digits", [8, 12, 16])
def test_generated_code_has_the_requested_length(api: Api, digits: int) -> None:
    code = api.create(cpnNoDigits=digits).result
    assert len(code) == digits and rules.normalize_code(code) == code
    assert api.validate(code).code == 0


def test_generated_code_defaults_to_16_and_empty_cpn_no_means_generate(api: Api) -> None:
    assert len(api.create().result) == 16
    assert len(api.create(cpnNo="").result) == 16


def test_generated_codes_never_overwrite_an_existing_coupon(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = api.create(cpnNo="TAKEN123", memo="original").result
    codes = iter([taken, taken, "FRESH234"])
    monkeypatch.setattr(rules, "generate_code", lambda length: next(codes))
    assert api.create(cpnNoDigits=8).result == "FRESH234"
    assert api.validate(taken).result["memo"] == "original"


def test_existing_code_is_refused_and_left_alone(api: Api) -> None:
    api.create(cpnNo="DUPLICATE1", memo="first")
    again = api.create(cpnNo="duplicate-1", memo="second")
    assert (again.status, again.code, again.result) == (409, 4090, None)
    assert api.validate("DUPLICATE1").result["memo"] == "first"


def test_defaults_fill_every_optional_field(api: Api) -> None:
    coupon = api.validate(api.create(cpnNo="DEFAULTS1").result).result
    assert coupon["domain"] == "https://coupons.example.com"
    assert (coupon["color"], coupon["background"]) == ("#4F4F4FFF", "#FFFFFFFF")
    assert (coupon["onsiteYn"], coupon["webhookEnableYn"]) == ("N", "N")
    assert (coupon["grpIdx"], coupon["tmplIdx"]) == (0, 0)
    for field in ("onsitePwd", "memo", "url", "userId", "userNm", "userEml", "userEtc2", "imgUrl"):
        assert coupon[field] == ""


def test_seed_page_example_is_accepted(api: Api, dates: Dates) -> None:
    seed = {
        "cpnNo": "",
        "cpnNoDigits": 12,
        "domain": "https://vvd.bz",
        "webhookEnableYn": "N",
        "nm": "$5 discount coupon",
        "discTypeIdx": 458,
        "disc": 5,
        "discCurrency": "USD",
        "strtYmd": dates.ymd(),
        "endYmd": dates.ymd(NEXT_YEAR_END),
        "useLimit": 1,
        "grpIdx": 1,  # the seed's 271: a number of one of the account's groups
        "tmplIdx": 0,
        "onsiteYn": "Y",
        "onsitePwd": "123456",
        "memo": "New Member Registration, IP: 211.111.222.33",
        "url": "https://bestshop.com",
        "userId": "att78z",
        "userNm": "Brown Smith",
        "userPhnno": "+1 123-4567-8900",
        "userEml": "test@gmail.com",
        "userEtc1": "Gold rating",
        "userEtc2": "",
        "someFutureField": {"ignored": True},
    }
    api.create_groups(1)
    created = api.call("POST", "/create", body=seed)
    assert created.code == 0 and len(created.result) == 12
    coupon = api.validate(created.result).result
    assert coupon["grpIdx"] == 1 and coupon["domain"] == "https://vvd.bz"
    assert coupon["formatDiscCurrency"] == "$5"


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"nm": ""}, "nm"),
    ({"nm": "x" * 101}, "nm"),
    ({"nm": 5}, "nm"),
    ({"discTypeIdx": 459}, "discTypeIdx"),
    ({"discTypeIdx": "458"}, "discTypeIdx"),
    ({"disc": "5"}, "disc"),
    ({"disc": 0}, "disc"),
    ({"disc": -5}, "disc"),
    ({"disc": True}, "disc"),
    ({"discTypeIdx": 457, "disc": 0.5}, "disc"),
    ({"discTypeIdx": 457, "disc": 101}, "disc"),
    ({"discCurrency": ""}, "discCurrency"),
    ({"discCurrency": "XYZ"}, "discCurrency"),
    ({"disc": 5.555, "discCurrency": "USD"}, "disc"),
    ({"disc": 5.5, "discCurrency": "KRW"}, "disc"),
    ({"disc": 10**13}, "disc"),
    ({"strtYmd": "2026/01/01"}, "strtYmd"),
    ({"strtYmd": "2026-02-30"}, "strtYmd"),
    ({"endYmd": "20261231"}, "endYmd"),
    ({"strtYmd": "2027-06-02", "endYmd": "2027-06-01"}, "endYmd"),
    ({"endYmd": AFTER_NEXT_YEAR}, "endYmd"),
    ({"useLimit": 6}, "useLimit"),
    ({"useLimit": -1}, "useLimit"),
    ({"useLimit": 1.5}, "useLimit"),
    ({"useLimit": 2}, "userId"),
    ({"onsiteYn": "yes"}, "onsiteYn"),
    ({"webhookEnableYn": 1}, "webhookEnableYn"),
    ({"onsitePwd": "x" * 21}, "onsitePwd"),
    ({"grpIdx": -1}, "grpIdx"),
    ({"tmplIdx": "0"}, "tmplIdx"),
    ({"domain": "http://insecure.example"}, "domain"),
    ({"domain": "vvd.bz"}, "domain"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"color": "red"}, "color"),
    ({"background": "#12345"}, "background"),
    ({"memo": "x" * 1001}, "memo"),
    ({"userId": "x" * 101}, "userId"),
    ({"userNm": "x" * 101}, "userNm"),
    ({"userPhnno": "1" * 31}, "userPhnno"),
    ({"userEml": "not-an-email"}, "userEml"),
    ({"userEml": "a@" + "b" * 250 + ".com"}, "userEml"),
    ({"userEtc1": "x" * 501}, "userEtc1"),
    ({"userEtc2": ["list"]}, "userEtc2"),
    ({"cpnNo": "SHORT"}, "cpnNo"),
    ({"cpnNo": "TOO-LONG-CODE-123456"}, "cpnNo"),
    ({"cpnNo": "BAD_CHARS!"}, "cpnNo"),
    ({"cpnNo": 12345678}, "cpnNo"),
    ({"cpnNoDigits": 10}, "cpnNoDigits"),
]


@pytest.mark.parametrize(("overrides", "field"), INVALID)
def test_invalid_fields_are_refused_naming_the_field(
    api: Api, dates: Dates, overrides: dict[str, Any], field: str
) -> None:
    body = {**coupon_fields(cpnNo="NOTSTORED1"), **dates.fill(overrides)}
    refused = api.call("POST", "/create", body=body)
    assert (refused.status, refused.code, refused.result) == (400, 4001, None)
    assert field in refused.body["message"]
    assert field in [error["field"] for error in refused.body["errors"]]
    # Nothing was written: the code is still free.
    assert api.validate("NOTSTORED1").code == 4040


@pytest.mark.parametrize("field", ["nm", "discTypeIdx", "disc", "strtYmd", "endYmd", "useLimit"])
def test_required_fields(api: Api, field: str) -> None:
    body = coupon_fields()
    del body[field]
    refused = api.call("POST", "/create", body=body)
    assert refused.code == 4001
    assert {"field": field, "message": "is required"} in refused.body["errors"]


def test_null_optional_fields_mean_absent(api: Api) -> None:
    created = api.create(cpnNo="NULLS123", memo=None, userId=None, grpIdx=None)
    assert created.code == 0
    assert api.validate("NULLS123").result["memo"] == ""


@pytest.mark.parametrize(
    ("overrides", "formatted"),
    [
        ({"disc": 5.5, "discCurrency": "USD"}, "$5.50"),
        ({"disc": 5000, "discCurrency": "KRW"}, "₩5,000"),
        ({"disc": 500, "discCurrency": "JPY"}, "¥500"),
        ({"discTypeIdx": 457, "disc": 10, "discCurrency": ""}, "10%"),
        ({"discTypeIdx": 457, "disc": 12.5}, "12.5%"),
    ],
)
def test_fixed_and_percent_discounts(api: Api, overrides: dict[str, Any], formatted: str) -> None:
    code = api.create(**overrides).result
    assert api.validate(code).result["formatDiscCurrency"] == formatted


def test_currency_is_case_insensitive_and_stored_upper_case(api: Api) -> None:
    code = api.create(discCurrency="eur", disc=7.25).result
    coupon = api.validate(code).result
    assert (coupon["discCurrency"], coupon["formatDiscCurrency"]) == ("EUR", "€7.25")
