"""Property-based tests of the domain rules (rules.py): code normalization and generation,
the date limits, the refusal order and the remaining uses, each against a reference written
here independently of the implementation. Derandomized, no example database: every run
checks the same examples, quickly."""

import re
import string
from datetime import date, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from coupons import rules
from coupons.errors import CouponError, ErrorCode

FAST = settings(max_examples=300, deadline=None, derandomize=True, database=None)
CONTRACT_CODE = re.compile(r"[A-Z0-9]{8,16}")  # used with fullmatch: no "$" newline slack
LOOK_ALIKES = set("0O1I")

# --- code normalization -------------------------------------------------------------------

_CODE_CHARS = string.ascii_letters + string.digits
_NOISE = st.sampled_from([" ", "-", "  ", "--", " - "])
# Text that is often close to a code: code characters, separators and a few troublemakers
# (look-alikes, underscores, line breaks, tabs, non-ASCII letters that upper-case to ASCII).
_CODE_ISH = st.text(
    alphabet=st.sampled_from(
        [*_CODE_CHARS, " ", "-", "_", "\n", "\t", "ß", "\u0131", "\u017f", "Ä", "é"]
    ),
    max_size=24,
)


def _normalized_or_none(raw: object) -> str | None:
    try:
        return rules.normalize_code(raw)
    except CouponError as refused:
        assert refused.code == ErrorCode.INVALID_FIELD
        assert [e.field for e in refused.errors] == ["cpnNo"]
        return None


@st.composite
def _decorated(draw: st.DrawFn, code: str) -> str:
    """`code` with random case and spaces/dashes before, between and after its characters."""
    parts = [draw(st.one_of(st.just(""), _NOISE))]
    for char in code:
        parts.append(char.lower() if draw(st.booleans()) else char)
        parts.append(draw(st.one_of(st.just(""), st.just(""), _NOISE)))
    return "".join(parts)


_VALID_CODES = st.text(alphabet=_CODE_CHARS, min_size=8, max_size=16)


@FAST
@given(st.one_of(st.text(max_size=40), _CODE_ISH))
@example("ABCDEFGH\n")
@example("ßßßß")
def test_normalization_is_idempotent(raw: str) -> None:
    code = _normalized_or_none(raw)
    if code is not None:
        assert rules.normalize_code(code) == code


@FAST
@given(_VALID_CODES.flatmap(lambda code: st.tuples(st.just(code), _decorated(code))))
def test_normalization_ignores_case_spaces_and_dashes(pair: tuple[str, str]) -> None:
    code, decorated = pair
    assert rules.normalize_code(decorated) == code.upper()
    assert rules.normalize_code(decorated.lower()) == rules.normalize_code(decorated.upper())


@FAST
@given(st.one_of(st.text(max_size=40), _CODE_ISH))
def test_only_ascii_codes_of_8_to_16_survive_normalization(raw: str) -> None:
    """The reference: strip " " and "-", upper-case, then exactly 8-16 of A-Z/0-9."""
    code = _normalized_or_none(raw)
    stripped = raw.replace(" ", "").replace("-", "")
    if stripped.isascii():
        expected = stripped.upper() if CONTRACT_CODE.fullmatch(stripped.upper()) else None
        if not stripped.endswith("\n"):  # see test_a_trailing_newline_is_not_part_of_a_code
            assert code == expected
    if code is not None:
        assert len(code) == len(code.encode()), "ASCII only"


@FAST
@given(st.one_of(st.text(max_size=40), _CODE_ISH))
@example("ABCDEFGH\n")
def test_a_trailing_newline_is_not_part_of_a_code(raw: str) -> None:
    code = _normalized_or_none(raw)
    if code is not None:
        assert CONTRACT_CODE.fullmatch(code), repr(code)


@FAST
@given(st.sampled_from(rules.CODE_LENGTHS))
def test_generated_codes_are_normalized_of_the_length_without_look_alikes(length: int) -> None:
    for _ in range(20):  # generate_code draws from `secrets`: many fresh codes per example
        code = rules.generate_code(length)
        assert len(code) == length
        assert rules.normalize_code(code) == code
        assert not set(code) & LOOK_ALIKES
        assert set(code) <= set(string.ascii_uppercase + string.digits)


# --- dates ----------------------------------------------------------------------------------

_DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))


@FAST
@given(_DAYS, _DAYS)
def test_latest_end_date_is_december_31_of_next_year(today: date, end: date) -> None:
    latest = rules.latest_end_date(today)
    # Reference: the day before January 1 two years on.
    assert latest == date(today.year + 2, 1, 1) - timedelta(days=1)
    assert (end <= latest) == (end.year <= today.year + 1)
    assert latest > today and (latest - today).days < 2 * 366


# --- refusals -------------------------------------------------------------------------------

USERS = st.sampled_from(["", "alice", "bob"])
PASSWORDS = st.sampled_from(["", "pin-1", "pin-2"])


@st.composite
def _coupons(draw: st.DrawFn, today: date) -> dict[str, Any]:
    """A coupon as the store holds it (strtYmd <= endYmd, useLimit 2-5 has a user), with
    dates around `today` so that every rule gets both answers."""
    start = today + timedelta(days=draw(st.integers(-5, 5)))
    end = start + timedelta(days=draw(st.integers(0, 8)))
    use_limit = draw(st.integers(0, 5))
    user = draw(USERS)
    if use_limit >= 2 and not user:
        user = draw(st.sampled_from(["alice", "bob"]))
    return {
        "strtYmd": start.isoformat(),
        "endYmd": end.isoformat(),
        "useLimit": use_limit,
        "useCnt": draw(st.integers(0, 7)),
        "userId": user,
        "onsitePwd": draw(st.sampled_from(["", "pin-1"])),
        **draw(st.sampled_from([{}, {"status": "ACTIVE"}, {"status": "DISABLED"}])),
    }


def _reference_refusal(
    coupon: dict[str, Any], today: date, user_id: str, onsite_pwd: str, redeeming: bool
) -> int | None:
    """DESIGN 2.1/2.4/2.6, written out: the first failing rule in the order 4231, 4220, 4221,
    4223, 4224, 4225, 4222 (4040 is the store's)."""
    limit, used, owner = coupon["useLimit"], coupon["useCnt"], coupon["userId"]
    failing = [
        (4231, coupon.get("status") == "DISABLED"),
        (4220, today < date.fromisoformat(coupon["strtYmd"])),
        (4221, today > date.fromisoformat(coupon["endYmd"])),
        (4223, redeeming and 2 <= limit <= 5 and user_id == ""),
        (4224, user_id != "" and owner not in ("", user_id)),
        (4225, redeeming and coupon["onsitePwd"] != "" and onsite_pwd != coupon["onsitePwd"]),
        (4222, limit > 0 and used >= limit),
    ]
    return next((code for code, fails in failing if fails), None)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[dict[str, Any], date, str, str, bool]:
    today = draw(_DAYS)
    return draw(_coupons(today)), today, draw(USERS), draw(PASSWORDS), draw(st.booleans())


@settings(FAST, max_examples=1000)
@given(_cases())
def test_refusal_agrees_with_the_reference(
    case: tuple[dict[str, Any], date, str, str, bool],
) -> None:
    coupon, today, user_id, pwd, redeeming = case
    refused = rules.refusal(coupon, today, user_id=user_id, onsite_pwd=pwd, redeeming=redeeming)
    assert refused == _reference_refusal(coupon, today, user_id, pwd, redeeming)
    code = None if refused is None else int(refused)
    disabled = coupon.get("status") == "DISABLED"
    assert (code == 4231) == disabled
    assert (code == 4220) == (not disabled and today.isoformat() < coupon["strtYmd"])
    assert (code == 4221) == (not disabled and today.isoformat() > coupon["endYmd"])
    if not redeeming:  # validate checks no password and asks for no user
        assert code not in (4223, 4225)


@FAST
@given(st.integers(0, 5), st.integers(0, 10_000))
def test_remaining_uses_is_never_negative_and_none_only_when_unlimited(
    use_limit: int, use_count: int
) -> None:
    remaining = rules.remaining_uses({"useLimit": use_limit, "useCnt": use_count})
    assert (remaining is None) == (use_limit == rules.UNLIMITED)
    if remaining is not None:
        assert remaining == max(0, use_limit - use_count) >= 0
