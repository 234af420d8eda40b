"""The one table of error codes: HTTP status and the message in every supported language;
and its companion, the one table of field errors' reasons (`errors[].message`)."""

from collections.abc import Mapping

from coupons.errors import ErrorCode, FieldError, Reason

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
    ErrorCode.GROUP_NOT_FOUND: (404, "Group not found.", "그룹을 찾을 수 없습니다."),
    ErrorCode.TEMPLATE_NOT_FOUND: (404, "Template not found.", "템플릿을 찾을 수 없습니다."),
    ErrorCode.WEBHOOK_NOT_SET: (
        404,
        "No webhook is set: PUT /webhook sets one.",
        "설정된 웹훅이 없습니다. PUT /webhook으로 설정하세요.",
    ),
    ErrorCode.DELIVERY_NOT_FOUND: (
        404,
        "Webhook delivery not found.",
        "웹훅 전송 내역을 찾을 수 없습니다.",
    ),
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
    ErrorCode.BELOW_MINIMUM: (
        422,
        "The order amount is below the coupon's minimum.",
        "주문 금액이 쿠폰의 최소 주문 금액보다 적습니다.",
    ),
    ErrorCode.CURRENCY_MISMATCH: (
        422,
        "The order's currency differs from the coupon's.",
        "주문 통화가 쿠폰의 통화와 다릅니다.",
    ),
    ErrorCode.USER_LIMIT_REACHED: (
        422,
        "This user has used up their uses of the coupon.",
        "이 사용자는 쿠폰 사용 횟수를 모두 사용했습니다.",
    ),
    ErrorCode.STILL_IN_USE: (
        409,
        "Still in use: a coupon or group refers to it.",
        "쿠폰 또는 그룹이 참조하고 있어 삭제할 수 없습니다.",
    ),
    ErrorCode.COUPON_DISABLED: (422, "The coupon is disabled.", "사용이 중지된 쿠폰입니다."),
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


# reason: (English, Korean); `{name}` is a parameter the raiser gives (errors.Reason). The
# English text follows the field's name ("cpnNo: is required"); the Korean is a sentence.
REASONS: dict[Reason, tuple[str, str]] = {
    Reason.REQUIRED: ("is required", "필수 항목입니다."),
    Reason.NOT_A_JSON_OBJECT: ("must be a JSON object", "JSON 객체여야 합니다."),
    Reason.NOT_A_STRING: ("must be a string", "문자열이어야 합니다."),
    Reason.NOT_A_NUMBER: ("must be a number", "숫자여야 합니다."),
    Reason.NOT_AN_INTEGER: ("must be an integer", "정수여야 합니다."),
    Reason.NOT_FINITE: ("must be a finite number", "유한한 숫자여야 합니다."),
    Reason.NOT_ONE_OF: ("must be one of {choices}", "{choices} 중 하나여야 합니다."),
    Reason.EMPTY: ("must not be empty", "비어 있을 수 없습니다."),
    Reason.TOO_SHORT: ("must be at least {min} characters", "{min}자 이상이어야 합니다."),
    Reason.TOO_LONG: ("must be at most {max} characters", "{max}자 이하여야 합니다."),
    Reason.NOT_PRINTABLE: (
        "must be printable text (no control characters)",
        "제어 문자가 없는 텍스트여야 합니다.",
    ),
    Reason.OUT_OF_RANGE: ("must be from {low} to {high}", "{low} 이상 {high} 이하여야 합니다."),
    Reason.TOO_SMALL: ("must be at least {low}", "{low} 이상이어야 합니다."),
    Reason.TOO_LARGE: ("must be at most {high}", "{high} 이하여야 합니다."),
    Reason.NOT_A_DATE: ("must be a date, YYYY-MM-DD", "YYYY-MM-DD 형식의 날짜여야 합니다."),
    Reason.NOT_A_REAL_DATE: (
        "must be a real calendar date, YYYY-MM-DD",
        "실제로 있는 날짜(YYYY-MM-DD)여야 합니다.",
    ),
    Reason.NOT_A_COLOR: (
        "must be a hex color: #RGB, #RRGGBB or #RRGGBBAA",
        "#RGB, #RRGGBB 또는 #RRGGBBAA 형식의 16진수 색상이어야 합니다.",
    ),
    Reason.NOT_AN_HTTPS_URL: ("must be an https:// URL", "https:// URL이어야 합니다."),
    Reason.NOT_AN_HTTP_URL: (
        "must be an http:// or https:// URL",
        "http:// 또는 https:// URL이어야 합니다.",
    ),
    Reason.NOT_AN_EMAIL: ("must be an email address", "이메일 주소여야 합니다."),
    Reason.NOT_A_REDEMPTION_ID: (
        "must be an rdmId returned by redeem",
        "쿠폰 사용(redeem) 응답으로 받은 rdmId여야 합니다.",
    ),
    Reason.PERCENT_OUT_OF_RANGE: (
        "must be between 1 and 100 for a percent coupon (457)",
        "정률 쿠폰(457)은 1에서 100 사이여야 합니다.",
    ),
    Reason.CURRENCY_REQUIRED: (
        "is required for a fixed-amount coupon (458)",
        "정액 쿠폰(458)에는 필수 항목입니다.",
    ),
    Reason.NOT_A_POSITIVE_AMOUNT: ("must be a positive amount", "0보다 큰 금액이어야 합니다."),
    Reason.TOO_MANY_DECIMALS: (
        "has more decimals than the currency allows",
        "통화가 허용하는 소수 자릿수를 넘었습니다.",
    ),
    Reason.END_BEFORE_START: (
        "must not be before strtYmd",
        "strtYmd와 같거나 그보다 이후여야 합니다.",
    ),
    Reason.END_TOO_LATE: (
        "must be no later than December 31 of next year",
        "내년 12월 31일까지만 설정할 수 있습니다.",
    ),
    Reason.USER_REQUIRED_FOR_LIMIT: (
        "is required when useLimit is 2 to 5",
        "useLimit이 2~5이면 필수 항목입니다.",
    ),
    Reason.CURRENCY_REQUIRED_FOR_LIMITS: (
        "is required when minOrderAmt or maxDiscAmt is set",
        "minOrderAmt 또는 maxDiscAmt를 설정하면 필수 항목입니다.",
    ),
    Reason.PERCENT_ONLY: (
        "applies to percent coupons (457) only",
        "정률 쿠폰(457)에만 설정할 수 있습니다.",
    ),
    Reason.SHARED_CODE_ONLY: (
        "applies only to a shared code (a coupon without userId)",
        "userId가 없는 공용 쿠폰에만 설정할 수 있습니다.",
    ),
    Reason.UNLIMITED_ONLY: (
        "applies only when useLimit is 0",
        "useLimit이 0일 때만 설정할 수 있습니다.",
    ),
    Reason.AMOUNT_OUT_OF_RANGE: (
        "must be greater than 0 and at most {high}",
        "0보다 크고 {high} 이하여야 합니다.",
    ),
    Reason.AMOUNT_REQUIRED_FOR_MINIMUM: (
        "is required: the coupon has a minimum order amount",
        "쿠폰에 최소 주문 금액이 있어 필수 항목입니다.",
    ),
    Reason.ORDER_CURRENCY_REQUIRED: (
        "is required: the coupon has no currency",
        "쿠폰에 통화가 없어 필수 항목입니다.",
    ),
    Reason.NO_SUCH_TEMPLATE: (
        "is not a template of this account (POST /template/create makes one)",
        "이 계정의 템플릿이 아닙니다(POST /template/create로 만들 수 있습니다).",
    ),
    Reason.NOT_A_BOOLEAN: ("must be true or false", "true 또는 false여야 합니다."),
    Reason.NOT_A_WEBHOOK_TARGET: (
        "must be an https URL of a public address (not loopback, private, link-local or a cloud metadata address), without credentials",
        "공개 주소의 https URL이어야 합니다(루프백, 사설, 링크 로컬, 클라우드 메타데이터 주소 불가, 자격 증명 불가).",
    ),
    Reason.NO_SUCH_GROUP: (
        "is not a group of this account (POST /group/create makes one)",
        "이 계정의 그룹이 아닙니다(POST /group/create로 만들 수 있습니다).",
    ),
    Reason.CODE_GENERATED_IN_BULK: (
        "is generated in bulk creation; leave it out",
        "대량 생성에서는 쿠폰 번호가 자동으로 만들어지므로 보내지 마세요.",
    ),
    Reason.CODE_REQUIRED: (
        "required, a string of 8-16 letters or digits",
        "필수 항목이며, 8~16자의 영문자 또는 숫자여야 합니다.",
    ),
    Reason.NOT_A_CODE: ("must be 8-16 letters or digits", "8~16자의 영문자 또는 숫자여야 합니다."),
    Reason.NOT_AN_IDEMPOTENCY_KEY: (
        "must be 1 to 255 printable ASCII characters",
        "출력 가능한 ASCII 문자 1~255자여야 합니다.",
    ),
    Reason.NOT_A_CURSOR: (
        "is not a cursor this list returned",
        "이 목록이 반환한 커서가 아닙니다.",
    ),
    Reason.NOT_A_WHOLE_NUMBER: (
        "must be a whole number from {low} to {high}",
        "{low} 이상 {high} 이하의 정수여야 합니다.",
    ),
    Reason.TEXT_TOO_LONG: (
        "must be a string of at most {max} characters",
        "{max}자 이하의 문자열이어야 합니다.",
    ),
    Reason.HEADERS_TOO_LARGE: (
        "at most {per_header} KB per header and {total} KB in all",
        "헤더는 하나에 {per_header}KB, 모두 합쳐 {total}KB를 넘을 수 없습니다.",
    ),
    Reason.QUERY_TOO_LARGE: (
        "at most {size} KB and {count} parameters",
        "쿼리 문자열은 {size}KB, 매개변수 {count}개를 넘을 수 없습니다.",
    ),
}


def http_status(code: ErrorCode) -> int:
    return CATALOG[code][0]


def message(code: ErrorCode, language: str, **params: str) -> str:
    _, english, korean = CATALOG[code]
    text = korean if language == "ko" else english
    return text.format(**params) if params else text


def reason_text(why: Reason, language: str, params: Mapping[str, object] | None = None) -> str:
    """A field error's reason in `language`, with its parameters."""
    english, korean = REASONS[why]
    text = korean if language == "ko" else english
    return text.format_map(params) if params else text


def field_message(error: FieldError, language: str) -> str:
    """`errors[].message` of a field error, in `language`."""
    return reason_text(error.reason, language, error.params)


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
