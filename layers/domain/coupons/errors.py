"""Domain exceptions. Every refusal is a `CouponError` carrying an `ErrorCode`; `http.py` maps
it to the envelope in one place, using the table in `messages.py`."""

from dataclasses import dataclass
from enum import IntEnum


class ErrorCode(IntEnum):
    OK = 0
    MALFORMED_REQUEST = 4000
    INVALID_FIELD = 4001
    UNAUTHORIZED = 4010
    COUPON_NOT_FOUND = 4040
    ROUTE_NOT_FOUND = 4041
    CODE_EXISTS = 4090
    COUPON_LOCKED = 4091
    IDEMPOTENCY_IN_PROGRESS = 4092
    NOT_YET_VALID = 4220
    EXPIRED = 4221
    USAGE_LIMIT_REACHED = 4222
    USER_REQUIRED = 4223
    USER_MISMATCH = 4224
    ONSITE_PASSWORD = 4225
    IDEMPOTENCY_MISMATCH = 4226
    REDEMPTION_NOT_FOUND = 4227
    TOO_MANY_REQUESTS = 4290
    INTERNAL = 5000
    THROTTLED = 5030


@dataclass(frozen=True)
class FieldError:
    """One invalid field: its name and a short reason (never the submitted value)."""

    field: str
    message: str


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


def invalid_field(field: str, message: str) -> CouponError:
    return CouponError(ErrorCode.INVALID_FIELD, errors=[FieldError(field, message)])


def storage_busy() -> CouponError:
    """503/5030: DynamoDB throttled, or a coupon too contended to settle; retry in a second."""
    return CouponError(ErrorCode.THROTTLED, retry_after=1)
