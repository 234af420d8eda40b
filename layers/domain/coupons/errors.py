"""Domain exceptions. Every refusal is a `CouponError` carrying an `ErrorCode`; `http.py` maps
it to the envelope in one place, using the table in `messages.py`."""

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import Enum, IntEnum, auto


class ErrorCode(IntEnum):
    OK = 0
    MALFORMED_REQUEST = 4000
    INVALID_FIELD = 4001
    UNAUTHORIZED = 4010
    COUPON_NOT_FOUND = 4040
    ROUTE_NOT_FOUND = 4041
    GROUP_NOT_FOUND = 4042
    TEMPLATE_NOT_FOUND = 4043
    WEBHOOK_NOT_SET = 4044
    DELIVERY_NOT_FOUND = 4045
    CODE_EXISTS = 4090
    COUPON_LOCKED = 4091
    IDEMPOTENCY_IN_PROGRESS = 4092
    STILL_IN_USE = 4093
    NOT_YET_VALID = 4220
    EXPIRED = 4221
    USAGE_LIMIT_REACHED = 4222
    USER_REQUIRED = 4223
    USER_MISMATCH = 4224
    ONSITE_PASSWORD = 4225
    IDEMPOTENCY_MISMATCH = 4226
    REDEMPTION_NOT_FOUND = 4227
    BELOW_MINIMUM = 4228
    CURRENCY_MISMATCH = 4229
    USER_LIMIT_REACHED = 4230
    COUPON_DISABLED = 4231
    TOO_MANY_REQUESTS = 4290
    INTERNAL = 5000
    THROTTLED = 5030


class Reason(Enum):
    """Why a field (or a part of the request) is refused: the key of its text, in every
    supported language, in `messages.REASONS`. Parameters (the numbers of a field's rules)
    are given where it is raised: `invalid_field(name, Reason.TOO_LONG, max=100)`."""

    REQUIRED = auto()
    NOT_A_JSON_OBJECT = auto()
    NOT_A_STRING = auto()
    NOT_A_NUMBER = auto()
    NOT_AN_INTEGER = auto()
    NOT_FINITE = auto()
    NOT_ONE_OF = auto()  # choices
    EMPTY = auto()
    TOO_SHORT = auto()  # min
    TOO_LONG = auto()  # max
    NOT_PRINTABLE = auto()
    OUT_OF_RANGE = auto()  # low, high
    TOO_SMALL = auto()  # low
    TOO_LARGE = auto()  # high
    NOT_A_DATE = auto()
    NOT_A_REAL_DATE = auto()
    NOT_A_COLOR = auto()
    NOT_AN_HTTPS_URL = auto()
    NOT_AN_HTTP_URL = auto()
    NOT_AN_EMAIL = auto()
    NOT_A_REDEMPTION_ID = auto()
    PERCENT_OUT_OF_RANGE = auto()
    CURRENCY_REQUIRED = auto()
    NOT_A_POSITIVE_AMOUNT = auto()
    TOO_MANY_DECIMALS = auto()
    END_BEFORE_START = auto()
    END_TOO_LATE = auto()
    USER_REQUIRED_FOR_LIMIT = auto()
    CURRENCY_REQUIRED_FOR_LIMITS = auto()
    PERCENT_ONLY = auto()
    SHARED_CODE_ONLY = auto()
    UNLIMITED_ONLY = auto()
    AMOUNT_OUT_OF_RANGE = auto()  # high
    AMOUNT_REQUIRED_FOR_MINIMUM = auto()
    ORDER_CURRENCY_REQUIRED = auto()
    CODE_GENERATED_IN_BULK = auto()
    NO_SUCH_TEMPLATE = auto()
    NO_SUCH_GROUP = auto()
    NOT_A_BOOLEAN = auto()
    NOT_A_WEBHOOK_TARGET = auto()
    CODE_REQUIRED = auto()
    NOT_A_CODE = auto()
    NOT_AN_IDEMPOTENCY_KEY = auto()
    NOT_A_CURSOR = auto()
    NOT_A_WHOLE_NUMBER = auto()  # low, high
    TEXT_TOO_LONG = auto()  # max
    HEADERS_TOO_LARGE = auto()  # per_header, total (KB)
    QUERY_TOO_LARGE = auto()  # size (KB), count


@dataclass(frozen=True)
class FieldError:
    """One invalid field: its name (the real one, also when the client sent a seed
    spelling), why (a `Reason`) and the reason's parameters; never the submitted value. The
    text is rendered in the request's language when the error is answered (http.py)."""

    field: str
    reason: Reason
    params: Mapping[str, object] = dataclass_field(default_factory=dict)


class Invalid(ValueError):
    """A value a field refuses (raised by a field's check; the parser names the field)."""

    def __init__(self, reason: Reason, **params: object) -> None:
        super().__init__(reason.name)
        self.reason = reason
        self.params = params


class CouponError(Exception):
    """A refusal the client should see, identified by its code."""

    def __init__(
        self,
        code: ErrorCode,
        *,
        errors: list[FieldError] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(code.name)
        self.code = code
        self.errors = errors or []
        self.retry_after = retry_after


def invalid_field(name: str, reason: Reason, **params: object) -> CouponError:
    """400/4001 naming one field, for `reason` (with its parameters)."""
    return CouponError(ErrorCode.INVALID_FIELD, errors=[FieldError(name, reason, params)])


def storage_busy() -> CouponError:
    """503/5030: DynamoDB throttled, or a coupon too contended to settle; retry in a second."""
    return CouponError(ErrorCode.THROTTLED, retry_after=1)
