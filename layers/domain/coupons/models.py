"""Request models (pydantic v2). Field shapes live here; the refusal rules live in rules.py."""

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic import ValidationInfo as _Info

from coupons.errors import CouponError, ErrorCode, FieldError, invalid_field
from coupons.rules import (
    FIXED_AMOUNT,
    MAX_INDEX,
    MAX_PERCENT,
    NAMED_USER_LIMIT,
    PERCENT,
    latest_end_date,
)

CURRENCIES = ("KRW", "CAD", "CNY", "EUR", "GBP", "IDR", "JPY", "MUR", "RUB", "SGD", "USD")
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
HEX_COLOR = r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$"
HTTPS_URL = re.compile(r"^https://[^\s/?#@]+(?:[/?#]\S*)?$")
HTTP_URL = re.compile(r"^https?://[^\s/?#@]+(?:[/?#]\S*)?$")
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# Optional text fields that must have a shape when set: field -> (pattern, reason).
SHAPES = {
    "domain": (HTTPS_URL, "must be an https:// URL"),
    "url": (HTTP_URL, "must be an http:// or https:// URL"),
    "userEml": (EMAIL_SHAPE, "must be an email address"),
}
# Any text but C0 controls (tabs and line breaks allowed) and lone surrogates, which
# could not be stored as UTF-8.
PRINTABLE = re.compile(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]*$")
MAX_AMOUNT = 1_000_000_000_000

YesNo = Literal["Y", "N"]
Index = Annotated[int, Field(ge=0, le=MAX_INDEX)]


Name = Annotated[str, Field(min_length=1, max_length=100)]
Text20 = Annotated[str, Field(max_length=20)]
Text30 = Annotated[str, Field(max_length=30)]
Code = Annotated[str, Field(max_length=64)]
Text100 = Annotated[str, Field(max_length=100)]
Text254 = Annotated[str, Field(max_length=254)]
Text500 = Annotated[str, Field(max_length=500)]
Text1000 = Annotated[str, Field(max_length=1000)]
Url = Annotated[str, Field(max_length=2048)]


class _Request(BaseModel):
    # Strict: a wrong JSON type is a 4001, never coerced. Unknown fields are ignored.
    # defer_build: a model's validator is built when it first validates, so a function builds
    # only the models it uses (redeem never pays for CouponTerms).
    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        allow_inf_nan=False,
        str_strip_whitespace=True,
        defer_build=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @field_validator("*")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        if isinstance(value, str) and not PRINTABLE.match(value):
            raise ValueError("must be printable text (no control characters)")
        return value


class CouponTerms(_Request):
    """Every editable field of a coupon, validated together: on create, and on update after
    the request is merged over the stored coupon. Strings are "" when unset."""

    nm: Name
    discTypeIdx: Literal[457, 458]
    disc: float
    discCurrency: str = ""
    strtYmd: Annotated[str, Field(pattern=DATE_PATTERN)]
    endYmd: Annotated[str, Field(pattern=DATE_PATTERN)]
    useLimit: Annotated[int, Field(ge=0, le=5)]
    onsiteYn: YesNo = "N"
    onsitePwd: Text20 = ""
    webhookEnableYn: YesNo = "N"
    grpIdx: Index = 0
    tmplIdx: Index = 0
    domain: Url = ""
    url: Url = ""
    color: Annotated[str, Field(pattern=HEX_COLOR)] = "#4F4F4FFF"
    background: Annotated[str, Field(pattern=HEX_COLOR)] = "#FFFFFFFF"
    memo: Text1000 = ""
    userId: Text100 = ""
    userNm: Text100 = ""
    userPhnno: Text30 = ""
    userEml: Text254 = ""
    userEtc1: Text500 = ""
    userEtc2: Text500 = ""

    @field_validator("strtYmd", "endYmd")
    @classmethod
    def _real_date(cls, value: str) -> str:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a real calendar date, YYYY-MM-DD") from None
        return value

    @field_validator("discCurrency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        value = value.upper()
        if value and value not in CURRENCIES:
            raise ValueError("must be one of " + ", ".join(CURRENCIES))
        return value

    @field_validator(*SHAPES)
    @classmethod
    def _shaped(cls, value: str, info: _Info) -> str:
        pattern, reason = SHAPES[str(info.field_name)]
        if value and not pattern.match(value):
            raise ValueError(reason)
        return value

    @model_validator(mode="after")
    def _consistent(self, info: _Info) -> "CouponTerms":
        # Raised as CouponError (not ValueError) so the message names the field.
        if self.discTypeIdx == PERCENT and not 1 <= self.disc <= MAX_PERCENT:
            raise invalid_field("disc", "must be between 1 and 100 for a percent coupon (457)")
        if self.discTypeIdx == FIXED_AMOUNT:
            if not self.discCurrency:
                raise invalid_field("discCurrency", "is required for a fixed-amount coupon (458)")
            if not 0 < self.disc <= MAX_AMOUNT:
                raise invalid_field("disc", "must be a positive amount")
            if _decimals(self.disc) > _currency_digits(self.discCurrency):
                raise invalid_field("disc", "has more decimals than the currency allows")
        if self.strtYmd > self.endYmd:
            raise invalid_field("endYmd", "must not be before strtYmd")
        today: date | None = (info.context or {}).get("today")
        if today is not None and self.endYmd > latest_end_date(today).isoformat():
            raise invalid_field("endYmd", "must be no later than December 31 of next year")
        if self.useLimit >= NAMED_USER_LIMIT and not self.userId:
            raise invalid_field("userId", "is required when useLimit is 2 to 5")
        return self


class CreateRequest(CouponTerms):
    cpnNo: Code = ""
    cpnNoDigits: Literal[8, 12, 16] = 16


MAX_BULK = 100


class BulkCreateRequest(CouponTerms):
    """`count` coupons with the same terms and generated codes."""

    count: Annotated[int, Field(ge=1, le=MAX_BULK)]
    cpnNoDigits: Literal[8, 12, 16] = 16

    @model_validator(mode="before")
    @classmethod
    def _codes_are_generated(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("cpnNo") is not None:
            raise invalid_field("cpnNo", "is generated in bulk creation; leave it out")
        return data


class UpdateRequest(_Request):
    """Only the code is required; the other fields present are the edits, merged over the
    stored coupon and validated as CouponTerms then (JSON null: unchanged)."""

    model_config = ConfigDict(extra="allow")  # the edits, kept as sent until merged

    cpnNo: Code

    @property
    def edits(self) -> dict[str, Any]:
        sent = self.model_extra or {}
        return {name: sent[name] for name in TERM_FIELDS if name in sent}


class RedeemRequest(_Request):
    cpnNo: Code
    userId: Text100 = ""
    onsitePwd: Text100 = ""
    memo: Text1000 = ""


REDEMPTION_ID = re.compile(r"^[0-9a-f]{24}$")


class CancelRequest(_Request):
    cpnNo: Code
    rdmId: Annotated[str, Field(max_length=64)]
    memo: Text1000 = ""

    @field_validator("rdmId")
    @classmethod
    def _redemption_id(cls, value: str) -> str:
        if not REDEMPTION_ID.match(value):
            raise ValueError("must be an rdmId returned by redeem")
        return value


TERM_FIELDS = tuple(CouponTerms.model_fields)


def parse[M: BaseModel](model: type[M], data: Any, **context: Any) -> M:
    """Validate `data` into `model`, turning pydantic's errors into one 4001 naming the fields."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        raise CouponError(
            ErrorCode.INVALID_FIELD,
            errors=[
                FieldError(".".join(str(part) for part in e["loc"]) or "body", _reason(e))
                for e in error.errors(include_url=False, include_input=False)
            ],
        ) from None


def _reason(error: Any) -> str:
    if error["type"] == "missing":
        return "is required"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _decimals(amount: float) -> int:
    exponent = Decimal(repr(amount)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _currency_digits(currency: str) -> int:
    # Babel's CLDR data is loaded only when a fixed-amount coupon is written.
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(currency))
