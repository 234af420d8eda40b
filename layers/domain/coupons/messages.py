"""The one table of error codes: HTTP status and the message in every supported language."""

from coupons.errors import ErrorCode

SUPPORTED_LANGUAGES = ("en", "ko")
DEFAULT_LANGUAGE = "en"

# code: (HTTP status, English, Korean)
CATALOG: dict[ErrorCode, tuple[int, str, str]] = {
    ErrorCode.OK: (200, "", ""),
    ErrorCode.MALFORMED_REQUEST: (
        400,
        "Malformed request: the body must be a JSON object of at most 16 KB, and headers and query string within their limits.",
        "잘못된 요청입니다. 본문은 16KB 이하의 JSON 객체여야 하고, 헤더와 쿼리 문자열은 제한을 넘을 수 없습니다.",
    ),
    ErrorCode.INVALID_FIELD: (400, "Invalid field: {fields}.", "잘못된 필드: {fields}."),
    ErrorCode.UNAUTHORIZED: (
        401,
        "Missing or invalid API key.",
        "API 키가 없거나 올바르지 않습니다.",
    ),
    ErrorCode.COUPON_NOT_FOUND: (404, "Coupon not found.", "쿠폰을 찾을 수 없습니다."),
    ErrorCode.ROUTE_NOT_FOUND: (404, "No such route.", "존재하지 않는 경로입니다."),
    ErrorCode.CODE_EXISTS: (
        409,
        "The coupon code already exists.",
        "이미 존재하는 쿠폰 번호입니다.",
    ),
    ErrorCode.COUPON_LOCKED: (
        409,
        "The coupon has already been used: only memo can be edited.",
        "이미 사용된 쿠폰입니다. 메모만 수정할 수 있습니다.",
    ),
    ErrorCode.IDEMPOTENCY_IN_PROGRESS: (
        409,
        "A request with this Idempotency-Key is still in progress.",
        "같은 Idempotency-Key의 요청이 아직 처리 중입니다.",
    ),
    ErrorCode.NOT_YET_VALID: (
        422,
        "The coupon is not yet valid.",
        "아직 사용 기간이 아닌 쿠폰입니다.",
    ),
    ErrorCode.EXPIRED: (422, "The coupon has expired.", "사용 기간이 지난 쿠폰입니다."),
    ErrorCode.USAGE_LIMIT_REACHED: (
        422,
        "The coupon's usage limit has been reached.",
        "쿠폰 사용 횟수를 모두 소진했습니다.",
    ),
    ErrorCode.USER_REQUIRED: (
        422,
        "userId is required for this coupon.",
        "이 쿠폰은 userId가 필요합니다.",
    ),
    ErrorCode.USER_MISMATCH: (
        422,
        "userId does not match the coupon's user.",
        "userId가 쿠폰 사용자와 일치하지 않습니다.",
    ),
    ErrorCode.ONSITE_PASSWORD: (
        422,
        "The on-site password is missing or wrong.",
        "현장쿠폰 비밀번호가 없거나 올바르지 않습니다.",
    ),
    ErrorCode.IDEMPOTENCY_MISMATCH: (
        422,
        "This Idempotency-Key was used with a different request.",
        "이 Idempotency-Key는 다른 요청에 사용되었습니다.",
    ),
    ErrorCode.REDEMPTION_NOT_FOUND: (
        422,
        "Redemption not found or already cancelled.",
        "사용 내역이 없거나 이미 취소되었습니다.",
    ),
    ErrorCode.TOO_MANY_REQUESTS: (
        429,
        "Too many requests or wrong passwords; try again later.",
        "요청이 너무 많거나 비밀번호가 여러 번 틀렸습니다. 잠시 후 다시 시도하세요.",
    ),
    ErrorCode.INTERNAL: (
        500,
        "Internal error (request id {request_id}).",
        "내부 오류가 발생했습니다 (요청 ID {request_id}).",
    ),
    ErrorCode.THROTTLED: (
        503,
        "Storage is busy; retry shortly.",
        "저장소가 혼잡합니다. 잠시 후 다시 시도하세요.",
    ),
}


def http_status(code: ErrorCode) -> int:
    return CATALOG[code][0]


def message(code: ErrorCode, language: str, **params: str) -> str:
    _, english, korean = CATALOG[code]
    text = korean if language == "ko" else english
    return text.format(**params) if params else text


def pick_language(accept_language: str | None) -> str:
    """The best supported language of an Accept-Language header (RFC 9110 q-values)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if language in SUPPORTED_LANGUAGES and q > best_q:
            best, best_q = language, q
    return best
