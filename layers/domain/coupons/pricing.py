"""Order amounts (DESIGN 2.6): what a coupon takes off an order, in Decimal, never float.

Percent: amount x disc / 100, rounded half-up to the currency's minor unit (0 digits for KRW
and JPY); fixed: disc. Then capped by maxDiscAmt (when set) and by the amount, so that the
order never pays less than 0. Amounts arrive as JSON numbers or query-string text and leave as
JSON numbers: an int when whole, else a float of at most the currency's digits (exact: a float
holds 15 significant digits, an amount of at most 10^12 with 2 decimals has 15)."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any

from coupons.errors import CouponError, ErrorCode, FieldError, Invalid, Reason, invalid_field
from coupons.rules import PERCENT

MAX_ORDER_AMOUNT = 10**12
# A number as a query string writes it (Decimal alone would also read "1_000", "NaN", " 1").
NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# The terms that price an order. Once a coupon priced one (its `priced` flag, set by that
# redemption) they cannot change, even after every use is cancelled: its records' discounts
# are derived from them (`completed`).
PRICING_TERMS = frozenset({"discTypeIdx", "disc", "discCurrency", "maxDiscAmt"})
CURRENCIES = ("KRW", "CAD", "CNY", "EUR", "GBP", "IDR", "JPY", "MUR", "RUB", "SGD", "USD")


@cache
def most_digits() -> int:
    """The most decimals a supported currency has: what an amount without a currency may
    have (its coupon's currency then decides, in the redeem condition)."""
    return max(map(minor_digits, CURRENCIES))


def known_currency(value: str) -> str:
    """A supported currency code (upper-cased), or "" for none."""
    value = value.upper()
    if value and value not in CURRENCIES:
        raise Invalid(Reason.NOT_ONE_OF, choices=", ".join(CURRENCIES))
    return value


def minor_digits(currency: str) -> int:
    """The currency's decimals (CLDR, through Babel, loaded only when an amount is priced)."""
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(currency))


def as_decimal(number: object) -> Decimal:
    """A stored or sent number (int, float, Decimal or its text) as the Decimal it reads as:
    a float by its shortest repr, so 0.1 is 0.1."""
    if isinstance(number, float):
        return Decimal(repr(number))
    return Decimal(str(number))


def decimals(amount: Decimal) -> int:
    """How many decimals the amount is written with (trailing zeros aside). Counted on its
    digits: normalize() would round 1e-999999999 to 0, in the context's precision."""
    _, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int):
        return 0
    kept = len(digits)
    while exponent < 0 and kept > 1 and digits[kept - 1] == 0:
        kept, exponent = kept - 1, exponent + 1
    return max(0, -exponent)


def as_json_number(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def order_amount(raw: object) -> Decimal:
    """An order amount as sent (a JSON number, or the query string's text): > 0, at most
    10^12. Its decimals are checked against the order's currency once that is known."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise Invalid(Reason.NOT_A_NUMBER)
    text = raw.strip() if isinstance(raw, str) else None
    if text is not None and not (len(text) <= 32 and NUMBER_TEXT.fullmatch(text)):  # noqa: PLR2004
        raise Invalid(Reason.NOT_A_NUMBER)
    try:
        amount = as_decimal(raw if text is None else text)
    except InvalidOperation:
        raise Invalid(Reason.NOT_A_NUMBER) from None
    if not amount.is_finite():
        raise Invalid(Reason.NOT_FINITE)
    if not 0 < amount <= MAX_ORDER_AMOUNT:
        raise Invalid(Reason.AMOUNT_OUT_OF_RANGE, high=MAX_ORDER_AMOUNT)
    return amount


@dataclass(frozen=True)
class Order:
    """The order a coupon is validated or redeemed for: its amount and currency ("" when the
    request names none: the coupon's discCurrency then)."""

    amount: Decimal
    currency: str = ""

    def currency_for(self, coupon: Mapping[str, Any]) -> str:
        return self.currency or str(coupon.get("discCurrency") or "")


def has_limits(coupon: Mapping[str, Any]) -> bool:
    """Whether the coupon's minimum or maximum (in its discCurrency) apply to the order."""
    return bool(coupon.get("minOrderAmt") or coupon.get("maxDiscAmt"))


@dataclass(frozen=True)
class Quote:
    """What the order pays with the coupon: discAmt + payAmt = amount, in `currency`."""

    discAmt: Decimal
    payAmt: Decimal
    currency: str


def quote(coupon: Mapping[str, Any], order: Order) -> Quote:
    """The discount on an order the coupon accepts (rules.order_refusal found nothing)."""
    currency = order.currency_for(coupon)
    disc = as_decimal(coupon["disc"])
    if coupon["discTypeIdx"] == PERCENT:
        unit = Decimal(1).scaleb(-minor_digits(currency))
        discount = (order.amount * disc / 100).quantize(unit, rounding=ROUND_HALF_UP)
    else:
        discount = disc
    most = as_decimal(coupon.get("maxDiscAmt") or 0)
    if most:
        discount = min(discount, most)
    discount = min(discount, order.amount)
    return Quote(discount, order.amount - discount, currency)


def order_of(raw_amount: object, currency: str) -> Order | None:
    """The order of a request's `amount` (None: none) and `currency` ("": the coupon's), or
    4001 on the field that is wrong; decimals are checked here when the currency is named."""
    if raw_amount is None:
        return None
    try:
        amount = order_amount(raw_amount)
    except Invalid as error:
        raise CouponError(
            ErrorCode.INVALID_FIELD, errors=[FieldError("amount", error.reason, error.params)]
        ) from None
    if decimals(amount) > (minor_digits(currency) if currency else most_digits()):
        raise invalid_field("amount", Reason.TOO_MANY_DECIMALS)
    return Order(amount, currency)


def completed[R: Mapping[str, Any]](record: R, coupon: Mapping[str, Any]) -> R:
    """A redemption record with the order's currency and discount filled in from the coupon's
    terms when its write could not know them (a redemption that did not read the coupon
    first). Exact: the terms that price an order cannot change once the coupon priced one
    (store/coupons.py, update)."""
    if "amount" not in record or "discAmt" in record:
        return record
    order = Order(as_decimal(record["amount"]), str(record.get("currency") or ""))
    priced = quote(coupon, order)
    return {**record, "currency": priced.currency, "discAmt": priced.discAmt}  # type: ignore[return-value]
