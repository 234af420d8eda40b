"""Property-based tests of order pricing (pricing.py, DESIGN 2.6): the discount a coupon takes
off an order, and how an order amount is read, each against a reference written here without
pricing's helpers. The reference prices in integer minor units (cents, won) with
fractions.Fraction, rounds half-up explicitly (floor(x + 1/2), x >= 0) and knows each
currency's decimals from the contract, not from Babel. Derandomized, no example database."""

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from coupons import pricing, rules
from coupons.errors import Invalid, Reason

FAST = settings(max_examples=300, deadline=None, derandomize=True, database=None)
PERCENT, FIXED = 457, 458
# The contract's minor units: 0 decimals for KRW and JPY, 2 for every other supported currency.
DIGITS = {
    "KRW": 0,
    "JPY": 0,
    **{code: 2 for code in ("CAD", "CNY", "EUR", "GBP", "IDR", "MUR", "RUB", "SGD", "USD")},
}
MAX_AMOUNT = 10**12


def _half_up(value: Fraction) -> int:
    """The integer nearest a non-negative value, a tie going up."""
    assert value >= 0
    return math.floor(value + Fraction(1, 2))


def _text(minor: int, digits: int) -> str:
    """An amount of `minor` units as decimal text with exactly `digits` decimals."""
    if not digits:
        return str(minor)
    whole, part = divmod(minor, 10**digits)
    return f"{whole}.{part:0{digits}d}"


def _exact(number: Decimal) -> Fraction:
    return Fraction(number)


# --- the priced cases ----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A coupon and an order it accepts, with the reference's view of them in minor units."""

    coupon: dict[str, Any]
    order: pricing.Order
    currency: str  # the currency the order is priced in
    amount_minor: int
    percent_hundredths: int  # a percent coupon's disc x 100 (0 for a fixed coupon)
    fixed_minor: int  # a fixed coupon's disc in minor units (0 for a percent coupon)
    cap_minor: int  # maxDiscAmt in minor units, 0 when there is none

    @property
    def digits(self) -> int:
        return DIGITS[self.currency]


def _stored(draw: st.DrawFn, minor: int, digits: int) -> int | float:
    """A stored number as it comes back: an int when whole (sometimes), else a float."""
    if minor % 10**digits == 0 and draw(st.booleans()):
        return int(minor // 10**digits)
    return float(_text(minor, digits))


def _order_amount(draw: st.DrawFn, minor: int, digits: int) -> Decimal:
    """The order amount in one of the shapes it reaches quote in."""
    text = _text(minor, digits)
    shape = draw(st.sampled_from(["text", "normalized", "json number", "query string"]))
    if shape == "normalized":  # e.g. Decimal("1E+3"), Decimal("1.5")
        return Decimal(text).normalize()
    if shape == "json number":
        return pricing.order_amount(float(text))
    if shape == "query string":
        return pricing.order_amount(text)
    return Decimal(text)


_NO_CAP: st.SearchStrategy[dict[str, Any]] = st.sampled_from(
    [{}, {"maxDiscAmt": 0}, {"maxDiscAmt": 0.0}, {"maxDiscAmt": None}]
)


@st.composite
def _cases(draw: st.DrawFn, kinds: tuple[int, ...] = (PERCENT, FIXED)) -> Case:
    currency = draw(st.sampled_from(sorted(DIGITS)))
    digits = DIGITS[currency]
    top = MAX_AMOUNT * 10**digits
    # Small amounts and round percents often make exact ties (k + 1/2 minor units).
    amount_minor = draw(st.one_of(st.integers(1, top), st.integers(1, 10_000)))
    kind = draw(st.sampled_from(kinds))
    percent_hundredths = fixed_minor = cap_minor = 0
    coupon: dict[str, Any] = {"discTypeIdx": kind}
    if kind == PERCENT:
        percent_hundredths = draw(  # 1.00 to 100.00
            st.one_of(st.integers(100, 10_000), st.sampled_from([500, 1250, 1500, 2500, 5000]))
        )
        coupon["disc"] = _stored(draw, percent_hundredths, 2)
        if draw(st.booleans()):
            cap_minor = draw(st.integers(1, top))
            coupon["maxDiscAmt"] = _stored(draw, cap_minor, digits)
        else:
            coupon.update(draw(_NO_CAP))
    else:
        fixed_minor = draw(st.integers(1, top))
        coupon["disc"] = _stored(draw, fixed_minor, digits)
        coupon.update(draw(_NO_CAP))
    # Where the order's currency comes from: the order, or the coupon's discCurrency when the
    # order names none. A fixed coupon or a coupon with limits prices only its own currency.
    if draw(st.booleans()):
        coupon["discCurrency"] = currency
        order_currency = ""
    else:
        order_currency = currency
        own_only = kind == FIXED or cap_minor
        others = [currency] if own_only else ["", *sorted(DIGITS)]
        coupon["discCurrency"] = draw(st.sampled_from(others))
    order = pricing.Order(_order_amount(draw, amount_minor, digits), order_currency)
    return Case(coupon, order, currency, amount_minor, percent_hundredths, fixed_minor, cap_minor)


def _expected_minor(case: Case) -> int:
    """The reference discount in minor units: amount x disc / 100 is
    amount_minor x (disc x 100) / 10^4 minor units, rounded half-up; then the caps."""
    if case.percent_hundredths:
        discount = _half_up(Fraction(case.amount_minor * case.percent_hundredths, 10_000))
    else:
        discount = case.fixed_minor
    if case.cap_minor:
        discount = min(discount, case.cap_minor)
    return min(discount, case.amount_minor)


@FAST
@given(_cases())
def test_quote_agrees_with_the_reference(case: Case) -> None:
    quote = pricing.quote(case.coupon, case.order)
    expected = _expected_minor(case)
    unit = Fraction(1, 10**case.digits)
    assert _exact(quote.discAmt) == expected * unit, (quote, expected)
    assert _exact(quote.payAmt) == (case.amount_minor - expected) * unit, (quote, expected)
    assert quote.currency == case.currency


@FAST
@given(_cases())
def test_quote_invariants(case: Case) -> None:
    # The generator makes only orders the coupon accepts (quote's precondition).
    assert rules.order_refusal(case.coupon, case.order, redeeming=True) is None
    quote = pricing.quote(case.coupon, case.order)
    amount = case.order.amount
    assert isinstance(quote.discAmt, Decimal)
    assert isinstance(quote.payAmt, Decimal)
    assert 0 <= quote.discAmt <= amount
    assert quote.payAmt >= 0
    assert quote.discAmt + quote.payAmt == amount  # exactly: Decimal sums of <= 15 digits
    # No more decimals than the currency allows.
    assert (_exact(quote.discAmt) * 10**case.digits).denominator == 1
    assert (_exact(quote.payAmt) * 10**case.digits).denominator == 1
    cap = case.coupon.get("maxDiscAmt")
    if cap:
        assert _exact(quote.discAmt) <= Fraction(str(cap))
    # The order's currency, or the coupon's when the order names none.
    assert quote.currency == (case.order.currency or case.coupon["discCurrency"])


@FAST
@given(_cases(kinds=(PERCENT,)), st.integers(1, 10**6))
def test_a_bigger_order_never_gets_a_smaller_percent_discount(case: Case, more: int) -> None:
    bigger_minor = min(case.amount_minor + more, MAX_AMOUNT * 10**case.digits)
    bigger = pricing.Order(Decimal(_text(bigger_minor, case.digits)), case.order.currency)
    small = pricing.quote(case.coupon, case.order)
    large = pricing.quote(case.coupon, bigger)
    assert small.discAmt <= large.discAmt
    assert small.payAmt <= large.payAmt


# --- half-up at exact ties -----------------------------------------------------------------


@st.composite
def _ties(draw: st.DrawFn) -> tuple[str, int, int]:
    """(currency, amount in minor units, disc x 100) whose exact discount is k + 1/2 minor
    units: amount_minor x hundredths = 5000 x odd. With g = gcd(hundredths, 5000), that is
    amount_minor = (5000 / g) x odd whenever hundredths / g is odd (at most 2^3 in it)."""
    currency = draw(st.sampled_from(sorted(DIGITS)))
    hundredths = draw(st.integers(100, 10_000).filter(lambda h: (h // math.gcd(h, 5000)) % 2))
    step = 5000 // math.gcd(hundredths, 5000)
    top = MAX_AMOUNT * 10 ** DIGITS[currency]
    odd = 2 * draw(st.integers(0, (top // step - 1) // 2)) + 1
    return currency, step * odd, hundredths


@FAST
@given(_ties())
@example(("KRW", 1010, 1500))  # 151.5 -> 152
@example(("KRW", 1030, 1500))  # 154.5 -> 155 (half-even would give 154)
@example(("JPY", 1012, 1250))  # 126.5 -> 127 (a fractional percent)
@example(("JPY", 1, 5000))  # 0.5 -> 1
@example(("USD", 1010, 1500))  # 1.515 -> 1.52
@example(("EUR", 1, 5000))  # 0.005 -> 0.01
@example(("SGD", 1030, 1500))  # 1.545 -> 1.55 (half-even would give 1.54)
def test_ties_round_half_up(tie: tuple[str, int, int]) -> None:
    currency, amount_minor, hundredths = tie
    assert amount_minor * hundredths % 10_000 == 5000  # really a tie
    digits = DIGITS[currency]
    coupon = {"discTypeIdx": PERCENT, "disc": hundredths / 100, "discCurrency": currency}
    coupon["maxDiscAmt"] = 0.0
    order = pricing.Order(Decimal(_text(amount_minor, digits)), currency)
    quote = pricing.quote(coupon, order)
    up = (amount_minor * hundredths + 5000) // 10_000
    assert _exact(quote.discAmt) == Fraction(up, 10**digits)


@pytest.mark.parametrize(
    ("currency", "amount", "disc", "disc_amt", "pay_amt"),
    [
        ("KRW", "1010", 15.0, "152", "858"),
        ("USD", "10.10", 15.0, "1.52", "8.58"),
        ("JPY", "1003", 15, "150", "853"),  # 150.45 -> 150
        ("USD", "80.10", 15.0, "12.02", "68.08"),  # 12.015 -> 12.02
        ("EUR", "0.01", 50.0, "0.01", "0"),  # 0.005 -> 0.01: the whole amount
        ("KRW", "1000000000000", 100, "1000000000000", "0"),
        ("USD", "999999999999.99", 12.5, "125000000000.00", "874999999999.99"),
    ],
)
def test_known_quotes(currency: str, amount: str, disc: float, disc_amt: str, pay_amt: str) -> None:
    coupon = {"discTypeIdx": PERCENT, "disc": disc, "discCurrency": "", "maxDiscAmt": 0.0}
    quote = pricing.quote(coupon, pricing.Order(Decimal(amount), currency))
    assert (quote.discAmt, quote.payAmt, quote.currency) == (
        Decimal(disc_amt),
        Decimal(pay_amt),
        currency,
    )


# --- reading an order amount ---------------------------------------------------------------


def _refusal(raw: object) -> Reason:
    with pytest.raises(Invalid) as refused:
        pricing.order_amount(raw)
    return refused.value.reason


@FAST
@given(st.integers(1, MAX_AMOUNT))
@example(1)
@example(MAX_AMOUNT)
def test_whole_amounts_in_range_are_read_exactly(number: int) -> None:
    for raw in (number, float(number), str(number)):
        amount = pricing.order_amount(raw)
        assert isinstance(amount, Decimal)
        assert _exact(amount) == number


@FAST
@given(st.integers(1, 10**15 - 1), st.integers(0, 15))
@example(1, 1)  # 0.1 is 0.1, not 0.1000000000000000055511151231257827...
@example(1, 2)
@example(1001, 2)  # 10.01
@example(99999999999999, 2)  # 999999999999.99
def test_floats_read_as_their_shortest_decimal(mantissa: int, scale: int) -> None:
    """A decimal of at most 15 significant digits is what its float's shortest repr spells."""
    value = Fraction(mantissa, 10**scale)
    assume(value <= MAX_AMOUNT)
    text = _text(mantissa, scale)
    assert _exact(pricing.order_amount(float(text))) == value
    assert _exact(pricing.order_amount(text)) == value


@FAST
@given(st.floats(min_value=0, max_value=MAX_AMOUNT, exclude_min=True))
@example(5e-324)
@example(1e12)
@example(0.1 + 0.2)
def test_any_float_in_range_is_read_as_a_decimal_that_round_trips(number: float) -> None:
    amount = pricing.order_amount(number)
    assert amount.is_finite()
    assert float(amount) == number
    assert len(amount.as_tuple().digits) <= 17  # a shortest repr, not the binary expansion


@FAST
@given(
    st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=MAX_AMOUNT + 1, max_value=10**40),
        st.floats(max_value=0, allow_nan=False),
        st.floats(min_value=MAX_AMOUNT, exclude_min=True, allow_nan=False),
    )
)
@example(0)
@example(0.0)
@example(-0.0)
@example(-1)
@example(MAX_AMOUNT + 1)
@example(10**40)  # 41 characters as text
@example(1e12 + 0.0001220703125)  # the next float after 10^12
def test_numbers_out_of_range_are_refused(number: float) -> None:
    for raw in (number, repr(number)):
        reason = _refusal(raw)
        if isinstance(raw, str) and len(raw) > 32:  # text that long is no amount at all
            assert reason == Reason.NOT_A_NUMBER, raw
        elif math.isfinite(number):
            assert reason == Reason.AMOUNT_OUT_OF_RANGE, raw
        elif isinstance(raw, str):  # "inf" is no number as a query string writes one
            assert reason == Reason.NOT_A_NUMBER, raw
        else:
            assert reason in {Reason.NOT_FINITE, Reason.AMOUNT_OUT_OF_RANGE}, raw


@pytest.mark.parametrize(
    "raw",
    [
        math.nan,
        -math.nan,
        math.inf,
        -math.inf,
        "NaN",
        "nan",
        "-NaN",
        "sNaN",
        "Infinity",
        "inf",
        "-Infinity",
        " Inf ",
    ],
)
def test_non_finite_amounts_are_refused(raw: object) -> None:
    assert _refusal(raw) in {Reason.NOT_FINITE, Reason.NOT_A_NUMBER}


@FAST
@given(
    st.one_of(
        st.booleans(),
        st.none(),
        st.binary(max_size=8),
        st.lists(st.integers(1, 10), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(1, 10), max_size=2),
        st.complex_numbers(allow_nan=False, allow_infinity=False),
        st.tuples(st.integers(1, 10)),
    )
)
@example(True)
@example(False)
@example(b"100")
@example([100])
def test_non_numbers_are_refused(raw: object) -> None:
    assert _refusal(raw) == Reason.NOT_A_NUMBER


# A decimal number as text (the reference grammar): sign, digits with an optional point (at
# least one digit), an optional exponent; surrounding whitespace aside.
_NUMBER = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")


def _reference_text(raw: str) -> Fraction | Reason:
    text = raw.strip()
    match = _NUMBER.fullmatch(text)
    if len(text) > 32 or not match or not (match[2] or match[3]):
        return Reason.NOT_A_NUMBER
    sign, whole, part, exponent = match.groups()
    part = part or ""
    value = Fraction(int(whole + part or "0"), 10 ** len(part)) * Fraction(10) ** int(
        exponent or "0"
    )
    if sign == "-":
        value = -value
    return value if 0 < value <= MAX_AMOUNT else Reason.AMOUNT_OUT_OF_RANGE


@FAST
@given(st.text(alphabet=st.sampled_from("0123456789.eE+- \tax,"), max_size=14))
@example("")
@example("  ")
@example("1e12")
@example("1e+12")
@example("1.000000000001e12")
@example(" +.5 ")
@example("5.")
@example(".")
@example("1e")
@example("1,000")
@example("1 000")
@example("0x10")
@example("-0")
@example("0.000")
@example("0" * 31 + "1")  # 32 characters: still read
@example("0" * 32 + "1")  # 33 characters: too long to be an amount
def test_text_is_read_as_the_reference_reads_it(raw: str) -> None:
    match = _NUMBER.fullmatch(raw.strip())
    assume(not (match and match[4] and abs(int(match[4])) > 100))  # absurd exponents aside
    expected = _reference_text(raw)
    if isinstance(expected, Reason):
        assert _refusal(raw) == expected, raw
    else:
        assert _exact(pricing.order_amount(raw)) == expected, raw
