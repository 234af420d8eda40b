"""Query-string requests (validate, delete, redemptions, list), parsed at the edge like the
bodies are (models.py), without the body models: these routes' cold start stays free of them.
A parameter's seed spelling (rules.SEED_SPELLINGS: ?cpNo=) is read as its real name."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from coupons import rules
from coupons.errors import Invalid, Reason, invalid_field
from coupons.pricing import Order, known_currency, order_of

DEFAULT_PAGE, MAX_PAGE = 20, 100
MAX_USER_ID = 100

type Params = Mapping[str, str]


@dataclass(frozen=True)
class CodeQuery:
    """?cpnNo= (delete)."""

    cpnNo: str

    @classmethod
    def parse(cls, params: Params) -> Self:
        params = rules.with_real_names(params)
        return cls(rules.normalize_code(params.get("cpnNo")))


@dataclass(frozen=True)
class ValidateQuery:
    """?cpnNo=&userId=&amount=&currency= ("" when no user is named; `order` None without an
    amount)."""

    cpnNo: str
    userId: str
    order: Order | None = None

    @classmethod
    def parse(cls, params: Params) -> Self:
        params = rules.with_real_names(params)
        code = rules.normalize_code(params.get("cpnNo"))
        user = optional_text(params.get("userId"), "userId", MAX_USER_ID)
        try:
            currency = known_currency(params.get("currency") or "")
        except Invalid as error:
            raise invalid_field("currency", error.reason, **error.params) from None
        return cls(code, user, order_of(params.get("amount"), currency))


@dataclass(frozen=True)
class HistoryQuery:
    """?cpnNo=&limit=&cursor= (GET /redemptions)."""

    cpnNo: str
    limit: int
    cursor: str | None

    @classmethod
    def parse(cls, params: Params) -> Self:
        params = rules.with_real_names(params)
        code = rules.normalize_code(params.get("cpnNo"))
        return cls(code, page_size(params.get("limit")), params.get("cursor"))


@dataclass(frozen=True)
class ListQuery:
    """?limit=&cursor=&grpIdx=&userId= (GET /list); None: not filtered."""

    limit: int
    cursor: str | None
    grpIdx: int | None
    userId: str | None

    @classmethod
    def parse(cls, params: Params) -> Self:
        params = rules.with_real_names(params)
        size = page_size(params.get("limit"))
        group = params.get("grpIdx")
        grp = None if group is None else whole_number(group, "grpIdx", 0, rules.MAX_INDEX)
        user = optional_text(params.get("userId"), "userId", MAX_USER_ID) or None
        return cls(size, params.get("cursor"), grp, user)


@dataclass(frozen=True)
class TemplateQuery:
    """?tmplIdx= (GET /template, DELETE /template/delete)."""

    tmplIdx: int

    @classmethod
    def parse(cls, params: Params) -> Self:
        return cls(whole_number(params.get("tmplIdx"), "tmplIdx", 1, rules.MAX_INDEX))


@dataclass(frozen=True)
class GroupQuery:
    """?grpIdx= (GET /group, DELETE /group/delete)."""

    grpIdx: int

    @classmethod
    def parse(cls, params: Params) -> Self:
        return cls(whole_number(params.get("grpIdx"), "grpIdx", 1, rules.MAX_INDEX))


@dataclass(frozen=True)
class PageQuery:
    """?limit=&cursor= (GET /template/list, /group/list)."""

    limit: int
    cursor: str | None

    @classmethod
    def parse(cls, params: Params) -> Self:
        return cls(page_size(params.get("limit")), params.get("cursor"))


def page_size(raw: object) -> int:
    return DEFAULT_PAGE if raw is None else whole_number(raw, "limit", 1, MAX_PAGE)


def whole_number(raw: object, field: str, low: int, high: int) -> int:
    text = raw if isinstance(raw, str) else ""
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and low <= int(text) <= high):  # noqa: PLR2004 - digits of 2**31
        raise invalid_field(field, Reason.NOT_A_WHOLE_NUMBER, low=low, high=high)
    return int(text)


def optional_text(value: object, field: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise invalid_field(field, Reason.TEXT_TOO_LONG, max=max_length)
    return value.strip()
