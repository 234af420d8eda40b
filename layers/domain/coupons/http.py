"""HTTP glue shared by every function: read the API Gateway HTTP API (v2) event, authenticate,
and map results and CouponErrors to the `{code, message, result}` envelope — in one place."""

import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from coupons import limits, settings
from coupons.auth import authenticate
from coupons.errors import CouponError, ErrorCode
from coupons.idempotency import Replayed
from coupons.messages import field_message, http_status, message
from coupons.observability import count, logger
from coupons.request import JSON_HEADERS, Answer, Event, Handler, Query, Request
from coupons.store.client import client

__all__ = [
    "Answer",
    "Event",
    "Handler",
    "Query",
    "Request",
    "endpoint",
    "public_endpoint",
    "respond",
]


def respond(status: int, body: Mapping[str, Any], headers: dict[str, str] | None = None) -> Answer:
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    }


def error_response(error: CouponError, request: Request) -> Answer:
    params: dict[str, str] = {}
    if error.code == ErrorCode.INVALID_FIELD:
        params["fields"] = ", ".join(dict.fromkeys(e.field for e in error.errors)) or "body"
    if error.code == ErrorCode.INTERNAL:
        params["request_id"] = request.request_id
    body: dict[str, Any] = {
        "code": int(error.code),
        "message": message(error.code, request.language, **params),
        "result": None,
    }
    if error.errors:
        body["errors"] = [
            {"field": e.field, "message": field_message(e, request.language)} for e in error.errors
        ]
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return respond(http_status(error.code), body, headers)


def _success(result: object) -> dict[str, object]:
    return {"code": 0, "message": "", "result": result}


def endpoint(operation: Callable[[Request], object], *, authenticated: bool = True) -> Handler:
    """Turn `operation(request) -> result` into a Lambda handler answering in the envelope.
    Runs at import, in the INIT phase: the settings are checked now (a function deployed
    without its table fails its cold start, saying why), and a function that reads the store
    creates its client now, as AWS recommends, rather than on its first request."""
    settings.current()
    if authenticated:
        client()

    # log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event carries the API key
    # (Authorization), the Idempotency-Key and bodies with on-site passwords.
    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True, log_event=False
    )
    def handler(event: Event, context: Any) -> Answer:
        request = Request(event)
        try:
            request.check_limits()
            if authenticated:
                request.account = authenticate(request.header("authorization"))
                limits.admit(request.account)
            result = operation(request)
        except CouponError as error:
            logger.info("refused", extra={"code": int(error.code), "account": request.account})
            if error.code == ErrorCode.THROTTLED:
                # The StorageBusy alarm of template.yaml reads this count (name, namespace and
                # the one dimension, service, must match it).
                count("StorageBusy")
            return error_response(error, request)
        except Exception:
            logger.exception("unhandled error", extra={"account": request.account})
            return error_response(CouponError(ErrorCode.INTERNAL), request)
        if isinstance(result, Replayed):  # the first response to this Idempotency-Key, again
            return respond(200, _success(result.result), {"Idempotent-Replayed": "true"})
        return respond(200, _success(result))

    return handler


def public_endpoint(operation: Callable[[Request], object]) -> Handler:
    return endpoint(operation, authenticated=False)
