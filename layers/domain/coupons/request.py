"""An HTTP API (payload 2.0) request as every function reads it, and its limits, without
anything heavy: the API's functions (http.py) and the coupon page's (page/web.py) share it."""

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Self

from coupons import clock
from coupons.errors import CouponError, ErrorCode, FieldError, Reason
from coupons.idempotency import HEADER as IDEMPOTENCY_HEADER
from coupons.idempotency import IdempotencyKey, checked_key
from coupons.messages import pick_language

if TYPE_CHECKING:
    from coupons.models import Body

MAX_BODY_BYTES = 16 * 1024
# Request limits (400/4000), checked before anything else reads the request, authentication
# included: an oversized request costs neither parsing nor a DynamoDB read.
# - Headers: the longest the API reads are a few hundred bytes (Authorization: a key of at most
#   256 characters; Idempotency-Key at most 255; Accept-Language); the rest are browsers' and
#   proxies' (cookies, tracing). 8 KB per header is the usual web-server line limit (nginx's
#   large_client_header_buffers, Apache's LimitRequestFieldSize). Deployed, API Gateway already
#   refuses more than 10,240 bytes of request line and headers together, before the function;
#   16 KB in all bounds what reaches a function by other paths (make dev's gateway, sam local,
#   a Function URL) without refusing anything API Gateway would pass.
# - Query string: the longest the API reads is /list's (a cursor of at most 1 KB, userId of
#   100, limit, grpIdx); 4 KB and 20 parameters leave room for a client's tracking parameters.
MAX_HEADER_VALUE_BYTES = 8 * 1024
MAX_HEADERS_BYTES = 16 * 1024  # names and values, cookies included
MAX_QUERY_BYTES = 4 * 1024
MAX_QUERY_PARAMS = 20
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}

type Event = dict[str, Any]
type Answer = dict[str, Any]
type Handler = Callable[[Event, Any], Answer]


class Query(Protocol):
    """A query-string request (queries.py): parsed from the parameters, or 4001."""

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Self: ...


class Request:
    """What a handler needs from the HTTP API (payload 2.0) event, read from the dict itself
    (powertools' event classes cost ~20 ms of cold start for four fields); `account` is set
    once the caller is known."""

    def __init__(self, event: Event) -> None:
        self.event = event
        self._json: dict[str, Any] | None = None
        self.headers: dict[str, str] = event.get("headers") or {}  # names are lower-case
        self.params: dict[str, str] = event.get("queryStringParameters") or {}
        language = self.header("accept-language")
        if language and len(language) > MAX_HEADER_VALUE_BYTES:  # refused by check_limits
            language = None
        self.language = pick_language(language)
        self.request_id = str((event.get("requestContext") or {}).get("requestId") or "")
        self.account = ""

    def check_limits(self) -> None:
        """400/4000 when a header, all headers or the query string is over its limit (above);
        the body's limit is checked when it is read."""
        if _over_header_limits(self.headers, self.event.get("cookies") or []):
            raise _too_large(
                "headers",
                Reason.HEADERS_TOO_LARGE,
                per_header=MAX_HEADER_VALUE_BYTES // 1024,
                total=MAX_HEADERS_BYTES // 1024,
            )
        query = self.event.get("rawQueryString")
        if query is None:  # an event built by hand: measure what API Gateway would have parsed
            query = "&".join(f"{name}={value}" for name, value in self.params.items())
        if (
            len(query.encode(errors="surrogatepass")) > MAX_QUERY_BYTES
            or sum(1 for piece in query.split("&") if piece) > MAX_QUERY_PARAMS
            or len(self.params) > MAX_QUERY_PARAMS
        ):
            raise _too_large(
                "query",
                Reason.QUERY_TOO_LARGE,
                size=MAX_QUERY_BYTES // 1024,
                count=MAX_QUERY_PARAMS,
            )

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def idempotency(self, route: str, *, private: Iterable[str] = ()) -> IdempotencyKey | None:
        """The request's Idempotency-Key on `route` (None when absent), or 400/4001 when
        malformed; `private` body fields are judged by the operation, not by 4226."""
        body = self.json()  # a body that is not JSON (4000) is answered before a bad key
        key = checked_key(self.header(IDEMPOTENCY_HEADER.lower()))
        if key is None:
            return None
        return IdempotencyKey(self.account, route, key, body, frozenset(private))

    def body[M: "Body"](self, model: type[M]) -> M:
        """The body parsed into `model` (models.py), or 400/4000 / 4001. The models load with
        the first body parsed, so query routes never import them."""
        from coupons.models import parse

        return parse(model, self.json(), today=clock.today())

    def query[Q: Query](self, query: type[Q]) -> Q:
        """The query string parsed into `query` (queries.py), or 4001."""
        return query.parse(self.params)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or 400/4000 (not JSON, not an object, over 16 KB)."""
        if self._json is None:
            self._json = self._read_json()
        return self._json

    def raw_body(self) -> bytes:
        """The body's bytes (API Gateway may send them base64-encoded), or 400/4000 when they
        can't be read or are over 16 KB."""
        raw = self.event.get("body") or ""
        if self.event.get("isBase64Encoded"):
            import base64

            try:
                data = base64.b64decode(raw, validate=True)
            except ValueError:
                raise CouponError(ErrorCode.MALFORMED_REQUEST) from None
        else:
            data = raw.encode(errors="surrogatepass")
        if len(data) > MAX_BODY_BYTES:
            raise CouponError(ErrorCode.MALFORMED_REQUEST)
        return data

    def _read_json(self) -> dict[str, Any]:
        data = self.raw_body()
        try:
            body = json.loads(data, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise CouponError(ErrorCode.MALFORMED_REQUEST) from None
        if not isinstance(body, dict):
            raise CouponError(ErrorCode.MALFORMED_REQUEST)
        return body


def _over_header_limits(headers: Mapping[str, object], cookies: Sequence[object]) -> bool:
    """Whether the headers are over their limits; the event is untrusted input, so a header
    that is not a string is over them too."""
    total = 0
    for name, value in [*headers.items(), *(("cookie", cookie) for cookie in cookies)]:
        if not isinstance(name, str) or not isinstance(value, str):
            return True
        size = len(value.encode(errors="surrogatepass"))
        if size > MAX_HEADER_VALUE_BYTES:
            return True
        total += len(name.encode(errors="surrogatepass")) + size
        if total > MAX_HEADERS_BYTES:
            return True
    return False


def _too_large(part: str, limit: Reason, **params: object) -> CouponError:
    return CouponError(ErrorCode.MALFORMED_REQUEST, errors=[FieldError(part, limit, params)])


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
