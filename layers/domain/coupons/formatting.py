"""formatDiscCurrency with Babel's CLDR data; imported only when a coupon is shown."""

from decimal import Decimal

from babel.numbers import format_currency, format_percent

from coupons.rules import PERCENT

_LOCALES = {"en": "en_US", "ko": "ko_KR"}


def format_discount(disc_type: int, disc: float, currency: str, language: str) -> str:
    """`10%`, `$5`, `$5.50`, `₩5,000` — whole amounts without decimals, others with the
    currency's own."""
    locale = _LOCALES.get(language, "en_US")
    if disc_type == PERCENT:
        return str(format_percent(disc / 100, locale=locale, decimal_quantization=False))
    if disc == int(disc):
        return str(
            format_currency(disc, currency, format="¤#,##0", locale=locale, currency_digits=False)
        )
    return str(format_currency(disc, currency, locale=locale))


def format_amount(amount: Decimal, currency: str, language: str) -> str:
    """An order amount with the currency's own decimals: `$12.50`, `₩5,000`."""
    return str(format_currency(amount, currency, locale=_LOCALES.get(language, "en_US")))
