"""HTTP for the coupon page: the event in, HTML out, with the headers that keep it private
and unframeable. Like http.endpoint (whose request limits it keeps), but public (no API key)
and answering pages, not the JSON envelope: an unknown, forged or dead token, and any failure,
is a page too."""

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from coupons import settings
from coupons.errors import CouponError, ErrorCode
from coupons.messages import http_status, message
from coupons.observability import count
from coupons.page.html import coupon_page, message_page
from coupons.page.text import text
from coupons.page.view import CouponPage
from coupons.request import Answer, Event, Handler, Request
from coupons.store.client import client

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

MAX_FORM_FIELDS = 10


class PageNotFound(Exception):
    """No page for this token: unknown, forged, or its coupon deleted (all answered alike)."""


class PageRequest(Request):
    """A page's request: its token (the path's), and its language: `?lang=en|ko`, else
    Accept-Language."""

    def __init__(self, event: Event) -> None:
        super().__init__(event)
        chosen = self.params.get("lang")
        if chosen in ("en", "ko"):
            self.language = chosen
        self.token = str((event.get("pathParameters") or {}).get("token") or "")

    def form(self) -> dict[str, str]:
        """The posted form's fields (application/x-www-form-urlencoded), the first of each."""
        try:
            pairs = parse_qsl(
                self.raw_body().decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
            )
        except (UnicodeDecodeError, ValueError):
            raise CouponError(ErrorCode.MALFORMED_REQUEST) from None
        fields: dict[str, str] = {}
        for name, value in pairs:
            fields.setdefault(name, value)
        return fields


def headers(nonce: str) -> dict[str, str]:
    """No script at all; styles only from the page's own nonced <style>; images from https
    (the merchant's) or inline; forms post only back here; never framed, cached or referred."""
    policy = (
        "default-src 'none'; "
        f"style-src 'nonce-{nonce}'; "
        "img-src https:; "
        "form-action 'self'; "
        "frame-ancestors 'none'; "
        "base-uri 'none'"
    )
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def page_endpoint(operation: Callable[[PageRequest], CouponPage]) -> Handler:
    """Turn `operation(request) -> CouponPage` into a Lambda handler answering HTML. Unlike
    the API's functions it loads no powertools at INIT (the page's cold start, DESIGN 2.8):
    it logs only what goes wrong, with the request's id, through the same Logger."""
    settings.current()
    client()

    def handler(event: Event, context: Any) -> Answer:
        request = PageRequest(event)
        nonce = secrets.token_urlsafe(16)
        lang = request.language
        try:
            request.check_limits()
            page = operation(request)
            from coupons.page.qr import qr_svg

            html = coupon_page(page, nonce, qr_svg(page.cpn_no))
            status = page.status
        except PageNotFound:
            status = 404
            html = message_page(lang, nonce, text("not_found_title", lang), text("not_found", lang))
        except CouponError as error:  # the request's limits, an unreadable form, storage busy
            _log().info("refused", extra={"code": int(error.code), **_ids(request, context)})
            if error.code == ErrorCode.THROTTLED:
                count("StorageBusy")
            status = http_status(error.code)
            said = (
                text("bad_form", lang)
                if error.code == ErrorCode.MALFORMED_REQUEST
                else message(error.code, lang)
            )
            html = message_page(lang, nonce, text("error_title", lang), said)
        except Exception:
            _log().exception("unhandled error", extra=_ids(request, context))
            status = 500
            body = text("error", lang, request_id=request.request_id)
            html = message_page(lang, nonce, text("error_title", lang), body)
        return {"statusCode": status, "headers": headers(nonce), "body": html}

    return handler


def _log() -> "Logger":
    from coupons.observability import logger

    return logger


def _ids(request: PageRequest, context: Any) -> dict[str, str]:
    return {
        "correlation_id": request.request_id,
        "function_request_id": str(getattr(context, "aws_request_id", "")),
    }
