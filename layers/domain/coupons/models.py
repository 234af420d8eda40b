"""Request bodies, parsed without pydantic (which cost ~75 ms of every body function's cold
start): frozen dataclasses (`@body`) whose fields each declare their shape once, in
`spec(...)`, read by `parse` and by `model_json_schema` (openapi.yaml) alike. Field shapes live
here; the refusal rules live in rules.py.

Parsing, for a JSON object (anything else is 4001 on "body"):
- JSON null means absent: the default applies, or the field "is required".
- Strict JSON types, never coerced: a string field takes a string only; an integer field an
  integer, not a bool or a float; a number field an integer or a finite float, not a bool; a
  choice field one of its values (a number equal to one: 457.0 is 457, as in JSON Schema).
- Strings are trimmed (Unicode White_Space) before their length and pattern are checked, and
  every string must be printable text.
- Unknown fields are ignored (UpdateRequest keeps the sent term fields as its `edits`).
- A field's seed spelling (rules.SEED_SPELLINGS: cpNo for cpnNo, ...) is read as the field,
  unless the real name is sent too (then it is ignored); errors name the real field.
- Every invalid field is named, in field order; the model's own check (`_check`) runs only
  once every field is valid.
- A refusal is a `Reason` (errors.py) with its parameters, never text: http.py renders it in
  the request's language from messages.REASONS."""

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import date
from typing import (
    Any,
    ClassVar,
    Literal,
    TypedDict,
    Unpack,
    dataclass_transform,
    get_args,
    get_origin,
)

from coupons.errors import CouponError, ErrorCode, FieldError, Invalid, Reason, invalid_field
from coupons.pricing import (
    MAX_ORDER_AMOUNT,
    Order,
    as_decimal,
    decimals,
    known_currency,
    minor_digits,
    order_of,
)
from coupons.rules import (
    FIXED_AMOUNT,
    MAX_INDEX,
    MAX_PER_USER_LIMIT,
    MAX_PERCENT,
    MAX_TOTAL_LIMIT,
    MAX_USE_LIMIT,
    NAMED_USER_LIMIT,
    PERCENT,
    SEED_SPELLINGS,
    latest_end_date,
    with_real_names,
)

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
HEX_COLOR = r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$"
HTTPS_URL = re.compile(r"^https://[^\s/?#@]+(?:[/?#]\S*)?$")
HTTP_URL = re.compile(r"^https?://[^\s/?#@]+(?:[/?#]\S*)?$")
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# Any text but C0 controls (tabs and line breaks allowed) and lone surrogates, which
# could not be stored as UTF-8.
PRINTABLE = re.compile(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]*$")
# What a string is trimmed of: Unicode's White_Space (str.strip() would also take \x1c-\x1f,
# which are control characters, refused as such).
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
MAX_AMOUNT = 1_000_000_000_000
MAX_BULK = 100
REDEMPTION_ID = re.compile(r"^[0-9a-f]{24}$")

type Check = Callable[[str], str]  # a string field's own check: the value, or Invalid(reason)
_RULES = "rules"  # the field's metadata key
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


class Shape:
    """A pattern a string must match (said in the JSON schema), and the reason when not."""

    __slots__ = ("reason", "regex")

    def __init__(self, pattern: str, reason: Reason) -> None:
        self.regex = re.compile(pattern)
        self.reason = reason


DATE = Shape(DATE_PATTERN, Reason.NOT_A_DATE)
COLOR = Shape(HEX_COLOR, Reason.NOT_A_COLOR)


class Rules(TypedDict, total=False):
    """What a field accepts besides its type (its annotation)."""

    min_length: int
    max_length: int
    pattern: Shape
    ge: int
    le: int
    check: Check


def spec(*, default: object = MISSING, **rules: Unpack[Rules]) -> Any:
    """A body field (the one place it is declared): required unless it has a default. Its
    type is its annotation: str, int, float or a Literal of choices."""
    return field(default=default, metadata={_RULES: rules})


class BodyField:
    """One field of a body, as parse and the JSON schema read it."""

    __slots__ = ("alias", "choices", "default", "name", "rules", "type")

    def __init__(
        self, name: str, kind: type, choices: tuple[object, ...], default: object, rules: Rules
    ) -> None:
        self.name = name
        self.type = kind
        self.choices = choices  # a Literal's values; () for any value of the type
        self.default = default  # MISSING when required
        self.rules = rules
        self.alias = SEED_SPELLINGS.get(name)  # the seed pages' spelling, also accepted

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def validate(self, value: object) -> object:
        """The value as the field holds it, or Invalid(reason)."""
        if self.choices:
            if isinstance(value, bool) or value not in self.choices:
                raise Invalid(Reason.NOT_ONE_OF, choices=", ".join(map(str, self.choices)))
            return self.choices[self.choices.index(value)]
        if self.type is str:
            return self._text(value)
        if self.type is bool:
            if not isinstance(value, bool):
                raise Invalid(Reason.NOT_A_BOOLEAN)
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(Reason.NOT_A_NUMBER if self.type is float else Reason.NOT_AN_INTEGER)
        if self.type is float:
            return _finite(value)
        if not isinstance(value, int):
            raise Invalid(Reason.NOT_AN_INTEGER)
        return self._in_range(value)

    def _text(self, value: object) -> str:
        if not isinstance(value, str):
            raise Invalid(Reason.NOT_A_STRING)
        text = value.strip(WHITESPACE)
        rules = self.rules
        shortest, longest = rules.get("min_length"), rules.get("max_length")
        if shortest is not None and len(text) < shortest:
            if shortest == 1:
                raise Invalid(Reason.EMPTY)
            raise Invalid(Reason.TOO_SHORT, min=shortest)
        if longest is not None and len(text) > longest:
            raise Invalid(Reason.TOO_LONG, max=longest)
        shape = rules.get("pattern")
        if shape is not None and not shape.regex.search(text):
            raise Invalid(shape.reason)
        if not PRINTABLE.match(text):
            raise Invalid(Reason.NOT_PRINTABLE)
        check = rules.get("check")
        return text if check is None else check(text)

    def _in_range(self, value: int) -> int:
        low, high = self.rules.get("ge"), self.rules.get("le")
        if (low is not None and value < low) or (high is not None and value > high):
            if low is not None and high is not None:
                raise Invalid(Reason.OUT_OF_RANGE, low=low, high=high)
            if high is None:
                raise Invalid(Reason.TOO_SMALL, low=low)
            raise Invalid(Reason.TOO_LARGE, high=high)
        return value

    def json_schema(self) -> dict[str, Any]:
        prop: dict[str, Any] = {"title": self.name.title()}
        if self.choices:
            prop["enum"] = list(self.choices)
            prop["type"] = _JSON_TYPES[type(self.choices[0])]
        else:
            prop["type"] = _JSON_TYPES[self.type]
        rules = self.rules
        shape = rules.get("pattern")
        keywords = {
            "minLength": rules.get("min_length"),
            "maxLength": rules.get("max_length"),
            "pattern": None if shape is None else shape.regex.pattern,
            "minimum": rules.get("ge"),
            "maximum": rules.get("le"),
        }
        prop.update({key: value for key, value in keywords.items() if value is not None})
        if not self.required:
            prop["default"] = self.default
        if self.alias:
            # Not a property of its own: the spelling is accepted, not part of the contract.
            prop["x-aliases"] = [
                {
                    "name": self.alias,
                    "deprecated": True,
                    "description": f"The seed pages' spelling of {self.name};"
                    f" {self.name} wins when both are sent.",
                }
            ]
        return dict(sorted(prop.items()))


def _finite(value: float) -> float:
    try:
        number = float(value)
    except OverflowError:
        raise Invalid(Reason.NOT_A_NUMBER) from None
    if not math.isfinite(number):
        raise Invalid(Reason.NOT_FINITE)
    return number


class Body:
    """A request body (a `@body` class): frozen, its fields declared with `spec`. The methods
    a dataclass would generate are written once here, for every body: generated per class,
    they cost ~1.5 ms of cold start for a model of 25 fields."""

    # Unknown fields are ignored; a model that keeps some (see `_kept`) says so in its schema.
    keeps_unknown: ClassVar[bool] = False
    _docstring: ClassVar[str | None] = None  # the class's own, for its JSON schema
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # set by @body

    def __init__(self, **values: Any) -> None:
        for declared in dataclass_fields(self):
            name = declared.name
            if name in values:
                value = values.pop(name)
            elif declared.default is not MISSING:
                value = declared.default
            elif callable(declared.default_factory):
                value = declared.default_factory()
            else:
                raise TypeError(f"{type(self).__name__}: {name} is required")
            object.__setattr__(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__}: no field {', '.join(values)}")

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in dataclass_fields(self))

    __hash__ = None  # type: ignore[assignment]  # unhashable (UpdateRequest's edits are a dict)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclass_fields(self))
        return f"{type(self).__name__}({shown})"

    @classmethod
    def fields(cls) -> Mapping[str, BodyField]:
        """The body's fields by name, in order."""
        found = _FIELDS.get(cls)
        if found is None:
            found = _FIELDS[cls] = _body_fields(cls)
        return found

    @classmethod
    def _check_sent(cls, sent: Mapping[str, Any]) -> None:
        """Before the fields are parsed (JSON nulls left out): raise to refuse the body."""

    @classmethod
    def _kept(cls, sent: Mapping[str, Any]) -> dict[str, Any]:
        """What the body keeps of the request besides its fields (init arguments)."""
        return {}

    def _check(self, context: Mapping[str, Any]) -> None:
        """Once every field is valid: the fields together (raise CouponError to refuse)."""

    def model_dump(self, include: set[str] | None = None) -> dict[str, Any]:
        """The fields (those in `include`, when given) by name, in order."""
        return {
            name: getattr(self, name)
            for name in self.fields()
            if include is None or name in include
        }

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """The body's JSON schema, as pydantic wrote it (keywords sorted, fields in order)."""
        import inspect

        fields = cls.fields().values()
        schema: dict[str, Any] = {
            "properties": {f.name: f.json_schema() for f in fields},
            "title": cls.__name__,
            "type": "object",
        }
        required = [f.name for f in fields if f.required]
        if required:
            schema["required"] = required
        if cls.keeps_unknown:
            schema["additionalProperties"] = True
        if cls._docstring:
            schema["description"] = inspect.cleandoc(cls._docstring)
        return dict(sorted(schema.items()))


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field, spec))
def body[B: type[Body]](cls: B) -> B:
    """Make `cls` a body: a dataclass (fields, metadata, dataclasses.fields) whose methods are
    Body's; to a type checker, a frozen dataclass with keyword-only fields."""
    cls._docstring = cls.__dict__.get("__doc__")  # before dataclass writes one if it has none
    dataclass(cls, kw_only=True, init=False, repr=False, eq=False)  # the same class, changed
    return cls


_FIELDS: dict[type[Body], Mapping[str, BodyField]] = {}


def _body_fields(model: type[Body]) -> Mapping[str, BodyField]:
    found: dict[str, BodyField] = {}
    for declared in dataclass_fields(model):
        rules = declared.metadata.get(_RULES)
        if rules is None:
            continue  # not read from the body (UpdateRequest.edits)
        kind = declared.type
        choices: tuple[object, ...] = ()
        if get_origin(kind) is Literal:
            choices = get_args(kind)
            kind = type(choices[0])
        if not isinstance(kind, type) or kind not in _JSON_TYPES:
            raise TypeError(f"{model.__name__}.{declared.name}: {kind!r} is not a body type")
        found[declared.name] = BodyField(declared.name, kind, choices, declared.default, rules)
    return found


def parse[M: Body](model: type[M], data: Any, **context: Any) -> M:
    """`data` parsed into `model`, or one 4001 naming every invalid field (see the module
    docstring); `context` is for the model's own check (today=)."""
    if not isinstance(data, dict):
        raise invalid_field("body", Reason.NOT_A_JSON_OBJECT)
    sent = with_real_names({key: value for key, value in data.items() if value is not None})
    model._check_sent(sent)
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, body_field in model.fields().items():
        if name not in sent:
            if body_field.required:
                errors.append(FieldError(name, Reason.REQUIRED))
            continue
        try:
            values[name] = body_field.validate(sent[name])
        except Invalid as error:
            errors.append(FieldError(name, error.reason, error.params))
    if errors:
        raise CouponError(ErrorCode.INVALID_FIELD, errors=errors)
    parsed = model(**values, **model._kept(sent))
    parsed._check(context)
    return parsed


# --- the fields' own checks ------------------------------------------------------------------


def _real_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise Invalid(Reason.NOT_A_REAL_DATE) from None
    return value


def _known_currency(value: str) -> str:
    return known_currency(value)


def _shaped(pattern: re.Pattern[str], reason: Reason) -> Check:
    """An optional text that must have a shape when set."""

    def check(value: str) -> str:
        if value and not pattern.match(value):
            raise Invalid(reason)
        return value

    return check


_https_url = _shaped(HTTPS_URL, Reason.NOT_AN_HTTPS_URL)
_http_url = _shaped(HTTP_URL, Reason.NOT_AN_HTTP_URL)
_email = _shaped(EMAIL_SHAPE, Reason.NOT_AN_EMAIL)
_optional_color = _shaped(COLOR.regex, Reason.NOT_A_COLOR)


def _redemption_id(value: str) -> str:
    if not REDEMPTION_ID.match(value):
        raise Invalid(Reason.NOT_A_REDEMPTION_ID)
    return value


# --- the bodies ------------------------------------------------------------------------------


@body
class CouponTerms(Body):
    """Every editable field of a coupon, validated together: on create, and on update after
    the request is merged over the stored coupon. Strings are "" when unset."""

    nm: str = spec(min_length=1, max_length=100)
    discTypeIdx: Literal[457, 458] = spec()
    disc: float = spec()
    discCurrency: str = spec(default="", check=_known_currency)
    strtYmd: str = spec(pattern=DATE, check=_real_date)
    endYmd: str = spec(pattern=DATE, check=_real_date)
    useLimit: int = spec(ge=0, le=MAX_USE_LIMIT)
    onsiteYn: Literal["Y", "N"] = spec(default="N")
    onsitePwd: str = spec(default="", max_length=20)
    webhookEnableYn: Literal["Y", "N"] = spec(default="N")
    grpIdx: int = spec(default=0, ge=0, le=MAX_INDEX)
    tmplIdx: int = spec(default=0, ge=0, le=MAX_INDEX)
    domain: str = spec(default="", max_length=2048, check=_https_url)
    url: str = spec(default="", max_length=2048, check=_http_url)
    color: str = spec(default="#4F4F4FFF", pattern=COLOR)
    background: str = spec(default="#FFFFFFFF", pattern=COLOR)
    memo: str = spec(default="", max_length=1000)
    userId: str = spec(default="", max_length=100)
    userNm: str = spec(default="", max_length=100)
    userPhnno: str = spec(default="", max_length=30)
    userEml: str = spec(default="", max_length=254, check=_email)
    userEtc1: str = spec(default="", max_length=500)
    userEtc2: str = spec(default="", max_length=500)
    # Checkout rules (DESIGN 2.6): amounts in discCurrency, 0 = none.
    minOrderAmt: float = spec(default=0)
    maxDiscAmt: float = spec(default=0)
    perUserLimit: int = spec(default=0, ge=0, le=MAX_PER_USER_LIMIT)
    totalLimit: int = spec(default=0, ge=0, le=MAX_TOTAL_LIMIT)

    def _check(self, context: Mapping[str, Any]) -> None:
        # Raised as CouponError (not ValueError) so the message names the field.
        if self.discTypeIdx == PERCENT and not 1 <= self.disc <= MAX_PERCENT:
            raise invalid_field("disc", Reason.PERCENT_OUT_OF_RANGE)
        if self.discTypeIdx == FIXED_AMOUNT:
            if not self.discCurrency:
                raise invalid_field("discCurrency", Reason.CURRENCY_REQUIRED)
            if not 0 < self.disc <= MAX_AMOUNT:
                raise invalid_field("disc", Reason.NOT_A_POSITIVE_AMOUNT)
            if _decimals(self.disc) > minor_digits(self.discCurrency):
                raise invalid_field("disc", Reason.TOO_MANY_DECIMALS)
        if self.strtYmd > self.endYmd:
            raise invalid_field("endYmd", Reason.END_BEFORE_START)
        today: date | None = context.get("today")
        if today is not None and self.endYmd > latest_end_date(today).isoformat():
            raise invalid_field("endYmd", Reason.END_TOO_LATE)
        self._check_limits()
        self._check_order_limits()

    def _check_limits(self) -> None:
        """Who may use the coupon how often: useLimit, perUserLimit, totalLimit."""
        if self.useLimit >= NAMED_USER_LIMIT and not self.userId:
            raise invalid_field("userId", Reason.USER_REQUIRED_FOR_LIMIT)
        if self.perUserLimit and self.userId:
            raise invalid_field("perUserLimit", Reason.SHARED_CODE_ONLY)
        if self.totalLimit and self.useLimit:
            raise invalid_field("totalLimit", Reason.UNLIMITED_ONLY)

    def _check_order_limits(self) -> None:
        """minOrderAmt and maxDiscAmt: amounts in discCurrency (then required), the maximum
        for percent coupons only."""
        for name, amount in (("minOrderAmt", self.minOrderAmt), ("maxDiscAmt", self.maxDiscAmt)):
            if not 0 <= amount <= MAX_AMOUNT:
                raise invalid_field(name, Reason.OUT_OF_RANGE, low=0, high=MAX_AMOUNT)
        if self.maxDiscAmt and self.discTypeIdx != PERCENT:
            raise invalid_field("maxDiscAmt", Reason.PERCENT_ONLY)
        if (self.minOrderAmt or self.maxDiscAmt) and not self.discCurrency:
            raise invalid_field("discCurrency", Reason.CURRENCY_REQUIRED_FOR_LIMITS)
        for name, amount in (("minOrderAmt", self.minOrderAmt), ("maxDiscAmt", self.maxDiscAmt)):
            if amount and _decimals(amount) > minor_digits(self.discCurrency):
                raise invalid_field(name, Reason.TOO_MANY_DECIMALS)


TERM_FIELDS = tuple(CouponTerms.fields())
TERM_DEFAULTS = {name: f.default for name, f in CouponTerms.fields().items() if not f.required}


@body
class CreateRequest(CouponTerms):
    cpnNo: str = spec(default="", max_length=64)
    cpnNoDigits: Literal[8, 12, 16] = spec(default=16)


@body
class BulkCreateRequest(CouponTerms):
    """`count` coupons with the same terms and generated codes."""

    count: int = spec(ge=1, le=MAX_BULK)
    cpnNoDigits: Literal[8, 12, 16] = spec(default=16)

    @classmethod
    def _check_sent(cls, sent: Mapping[str, Any]) -> None:
        if "cpnNo" in sent:
            raise invalid_field("cpnNo", Reason.CODE_GENERATED_IN_BULK)


@body
class UpdateRequest(Body):
    """Only the code is required; the other fields present are the edits, merged over the
    stored coupon and validated as CouponTerms then (JSON null: unchanged)."""

    keeps_unknown: ClassVar[bool] = True  # the edits, kept as sent until merged

    cpnNo: str = spec(max_length=64)
    edits: dict[str, Any] = field(default_factory=dict)  # not a body field: no spec

    @classmethod
    def _kept(cls, sent: Mapping[str, Any]) -> dict[str, Any]:
        return {"edits": {name: sent[name] for name in TERM_FIELDS if name in sent}}


@body
class RedeemRequest(Body):
    """`amount` (> 0, at most 10^12; absent: no order amount) and `currency` (default: the
    coupon's discCurrency) price the order (DESIGN 2.6)."""

    cpnNo: str = spec(max_length=64)
    userId: str = spec(default="", max_length=100)
    onsitePwd: str = spec(default="", max_length=100)
    memo: str = spec(default="", max_length=1000)
    amount: float = spec(default=0)
    currency: str = spec(default="", check=_known_currency)

    @classmethod
    def _check_sent(cls, sent: Mapping[str, Any]) -> None:
        amount = sent.get("amount")
        if isinstance(amount, int | float) and not isinstance(amount, bool) and amount <= 0:
            raise invalid_field("amount", Reason.AMOUNT_OUT_OF_RANGE, high=MAX_ORDER_AMOUNT)

    def _check(self, context: Mapping[str, Any]) -> None:
        self.order()

    def order(self) -> Order | None:
        """The order to price, or None when the request has no amount."""
        return order_of(self.amount or None, self.currency)


@body
class CodeRequest(Body):
    """A coupon named by its code alone (disable, enable)."""

    cpnNo: str = spec(max_length=64)


@body
class CancelRequest(Body):
    cpnNo: str = spec(max_length=64)
    rdmId: str = spec(max_length=64, check=_redemption_id)
    memo: str = spec(default="", max_length=1000)


# --- templates (DESIGN 2.7) ---------------------------------------------------------------


@body
class TemplateText(Body):
    """A coupon template's text: plain text, newlines kept (only the ends are trimmed)."""

    nm: str = spec(min_length=1, max_length=100)
    description: str = spec(default="", max_length=2000)
    usage: str = spec(default="", max_length=2000)
    precautions: str = spec(default="", max_length=2000)


TEMPLATE_FIELDS = tuple(TemplateText.fields())


@body
class TemplateUpdateRequest(Body):
    """The template's number; the text fields present change, those absent stay."""

    keeps_unknown: ClassVar[bool] = True

    tmplIdx: int = spec(ge=1, le=MAX_INDEX)
    edits: dict[str, Any] = field(default_factory=dict)  # not a body field: no spec

    @classmethod
    def _kept(cls, sent: Mapping[str, Any]) -> dict[str, Any]:
        return {"edits": {name: sent[name] for name in TEMPLATE_FIELDS if name in sent}}


# --- groups (DESIGN 2.7) ------------------------------------------------------------------


@body
class GroupFields(Body):
    """A coupon group: its name, and the settings that take priority over its coupons' own
    wherever they are shown ("" or 0: not set, the coupon's own value shows)."""

    nm: str = spec(min_length=1, max_length=100)
    imgUrl: str = spec(default="", max_length=2048, check=_https_url)
    color: str = spec(default="", check=_optional_color)
    background: str = spec(default="", check=_optional_color)
    url: str = spec(default="", max_length=2048, check=_http_url)
    tmplIdx: int = spec(default=0, ge=0, le=MAX_INDEX)
    domain: str = spec(default="", max_length=2048, check=_https_url)
    memo: str = spec(default="", max_length=1000)


GROUP_FIELDS = tuple(GroupFields.fields())


@body
class GroupUpdateRequest(Body):
    """The group's number; the fields present change, those absent stay ("" or 0 unsets a
    setting)."""

    keeps_unknown: ClassVar[bool] = True

    grpIdx: int = spec(ge=1, le=MAX_INDEX)
    edits: dict[str, Any] = field(default_factory=dict)  # not a body field: no spec

    @classmethod
    def _kept(cls, sent: Mapping[str, Any]) -> dict[str, Any]:
        return {"edits": {name: sent[name] for name in GROUP_FIELDS if name in sent}}


# --- webhooks (DESIGN 2.9) -------------------------------------------------------------------


@body
class WebhookRequest(Body):
    """The account's webhook: where events are sent (https, a public address: checked now and
    again at each send), and whether they are."""

    url: str = spec(min_length=1, max_length=2048)
    enabled: bool = spec(default=True)


@body
class RedeliverRequest(Body):
    """A delivery to send again, by its event id."""

    id: str = spec(min_length=1, max_length=64)


def _decimals(amount: float) -> int:
    return decimals(as_decimal(amount))
