"""Domain rules that need no storage."""

from datetime import date

import pytest

from coupons import rules
from coupons.errors import CouponError, ErrorCode


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("abcd-efgh-1234", "ABCDEFGH1234"),
        (" zjlf 0399 wqbe qzjm ", "ZJLF0399WQBEQZJM"),
        ("V5H8GR5T", "V5H8GR5T"),
    ],
)
def test_codes_are_normalized(raw: str, code: str) -> None:
    assert rules.normalize_code(raw) == code


@pytest.mark.parametrize("raw", ["", "SHORT1", "A" * 17, "ABCD_EFGH", "ÄBCDEFGH", 12345678, None])
def test_bad_codes_name_the_field(raw: object) -> None:
    with pytest.raises(CouponError) as refused:
        rules.normalize_code(raw)
    assert refused.value.code == ErrorCode.INVALID_FIELD
    assert refused.value.errors[0].field == "cpnNo"


@pytest.mark.parametrize("length", rules.CODE_LENGTHS)
def test_generated_codes_have_the_length_and_no_look_alikes(length: int) -> None:
    codes = {rules.generate_code(length) for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == length
        assert rules.normalize_code(code) == code
        assert not set(code) & set("01OI")


def test_coupons_may_run_until_the_end_of_next_year() -> None:
    assert rules.latest_end_date(date(2026, 3, 1)) == date(2027, 12, 31)


def _coupon(**fields: object) -> dict[str, object]:
    return {
        "strtYmd": "2026-01-01",
        "endYmd": "2026-12-31",
        "useLimit": 1,
        "useCnt": 0,
        "userId": "",
        "onsitePwd": "",
        **fields,
    }


TODAY = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("coupon", "request_", "expected"),
    [
        (_coupon(), {}, None),
        (_coupon(strtYmd="2026-06-02"), {}, ErrorCode.NOT_YET_VALID),
        (_coupon(strtYmd="2026-06-01", endYmd="2026-06-01"), {}, None),  # both ends inclusive
        (_coupon(endYmd="2026-05-31"), {}, ErrorCode.EXPIRED),
        (_coupon(useLimit=3, userId="u1"), {}, ErrorCode.USER_REQUIRED),
        (_coupon(useLimit=3, userId="u1"), {"user_id": "u2"}, ErrorCode.USER_MISMATCH),
        (_coupon(useLimit=1, userId="u1"), {"user_id": "u2"}, ErrorCode.USER_MISMATCH),
        (_coupon(useLimit=1, userId="u1"), {}, None),  # single use: a user is optional
        (_coupon(useLimit=1), {"user_id": "anyone"}, None),
        (_coupon(onsitePwd="1234"), {}, ErrorCode.ONSITE_PASSWORD),
        (_coupon(onsitePwd="1234"), {"onsite_pwd": "9999"}, ErrorCode.ONSITE_PASSWORD),
        (_coupon(onsitePwd="1234"), {"onsite_pwd": "1234"}, None),
        (_coupon(useCnt=1), {}, ErrorCode.USAGE_LIMIT_REACHED),
        (_coupon(useLimit=0, useCnt=10_000), {}, None),  # unlimited never runs out
        # The contract's order when several rules refuse at once:
        (_coupon(endYmd="2026-05-31", useCnt=1, onsitePwd="x"), {}, ErrorCode.EXPIRED),
        (_coupon(useLimit=2, userId="u", useCnt=2, onsitePwd="x"), {}, ErrorCode.USER_REQUIRED),
        (_coupon(useCnt=1, onsitePwd="x"), {}, ErrorCode.ONSITE_PASSWORD),
    ],
)
def test_redeem_refusals_in_contract_order(
    coupon: dict[str, object], request_: dict[str, str], expected: ErrorCode | None
) -> None:
    arguments = {"user_id": "", "onsite_pwd": "", **request_}
    refused = rules.refusal(
        coupon,
        TODAY,
        redeeming=True,
        user_id=arguments["user_id"],
        onsite_pwd=arguments["onsite_pwd"],
    )
    assert refused == expected


def test_validate_checks_the_user_only_when_named_and_never_the_password() -> None:
    coupon = _coupon(useLimit=3, userId="u1", onsitePwd="1234")
    assert rules.refusal(coupon, TODAY, user_id="", redeeming=False) is None
    assert rules.refusal(coupon, TODAY, user_id="u2", redeeming=False) == ErrorCode.USER_MISMATCH


def test_remaining_uses() -> None:
    assert rules.remaining_uses({"useLimit": 5, "useCnt": 2}) == 3
    assert rules.remaining_uses({"useLimit": 0, "useCnt": 2}) is None
