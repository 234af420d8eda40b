"""The public coupon page (DESIGN 2.8): show a coupon to whoever holds its link, and let the
shop's staff use it on site with the on-site password, as a redemption under every rule."""

import secrets
from dataclasses import replace
from typing import TYPE_CHECKING

from coupons import clock
from coupons.clock import local_time
from coupons.errors import CouponError
from coupons.messages import http_status, message
from coupons.page import tokens, view
from coupons.page.text import text
from coupons.page.view import CouponPage, Notice
from coupons.page.web import PageNotFound
from coupons.records import StoredCoupon
from coupons.service.coupons import group_of, template_shown
from coupons.store import coupons as coupon_items

if TYPE_CHECKING:
    from coupons.records import UseResult

# The on-site use's Idempotency-Key route: the form's nonce is its key, so a second press of
# the same form is a replay that counts nothing.
USE_ROUTE = "page/use"
# What the merchant's redemption history says of a use from the page.
USE_MEMO = "on site (coupon page)"


def coupon_page(token: str, language: str) -> CouponPage:
    account, coupon = _open(token)
    return _page(account, coupon, token, language)


def use_on_site(token: str, form: dict[str, str], language: str) -> CouponPage:
    """One use of the coupon, confirmed by the staff's on-site password: a redemption under
    every rule (lockout included), as its own user; then the page as it is after it."""
    from coupons.idempotency import IdempotencyKey, Replayed, checked_key
    from coupons.models import RedeemRequest, parse
    from coupons.service.redemptions import NotOnSite, redeem_coupon

    account, coupon = _open(token)
    not_on_site = Notice(ok=False, text=text("not_onsite", language))
    if not view.onsite_coupon(coupon):
        # Only a coupon the page offers the form for: an on-site coupon with a password.
        # Anything else is refused here, before any write, whatever was posted; one changed
        # meanwhile is refused by the redemption's own condition (on_site). Whether it is
        # usable now is the redemption's to say, after a replay's answer.
        return replace(_page(account, coupon, token, language), notice=not_on_site, status=409)
    body = {
        "cpnNo": coupon["cpnNo"],
        "userId": coupon["userId"],
        "onsitePwd": form.get("onsitePwd", ""),
        "memo": USE_MEMO,
    }
    try:
        request = parse(RedeemRequest, body)
        nonce = checked_key(form.get("nonce") or None)
        key = None
        if nonce is not None:
            key = IdempotencyKey(account, USE_ROUTE, nonce, body, frozenset({"onsitePwd"}))
        used = redeem_coupon(account, request, key, language, on_site=coupon["cid"])
        result: UseResult = used.result if isinstance(used, Replayed) else used
        when = local_time(int(result["rdmId"][:12], 16))  # its id starts with its time
        notice, status = Notice(ok=True, text=text("just_used", language, time=when)), 200
    except NotOnSite:
        notice, status = not_on_site, 409
    except CouponError as refused:
        fields = ", ".join(dict.fromkeys(e.field for e in refused.errors)) or "onsitePwd"
        notice = Notice(ok=False, text=message(refused.code, language, fields=fields))
        status = http_status(refused.code)
    after = coupon_items.get(account, coupon["cpnNo"], consistent=True)
    if after is None or after["cid"] != coupon["cid"]:  # deleted meanwhile
        raise PageNotFound()
    return replace(_page(account, after, token, language), notice=notice, status=status)


def _open(token: str) -> tuple[str, StoredCoupon]:
    """The account and coupon the token opens, or PageNotFound (one GetItem)."""
    parts = tokens.decode(token)
    if parts is None:
        raise PageNotFound()
    coupon = coupon_items.get(parts.account, parts.cpn_no)
    if coupon is None or not tokens.opens(parts, coupon):
        raise PageNotFound()
    return parts.account, coupon


def _page(account: str, coupon: StoredCoupon, token: str, language: str) -> CouponPage:
    from coupons.formatting import format_discount  # Babel: with the first page, not at INIT

    group = group_of(account, coupon)
    state = view.state_of(coupon, clock.today())
    settings = view.settings(coupon, group)
    last_use = view.used_at(coupon) if state == "used_up" else None
    return CouponPage(
        language=language,
        token=token,
        cpn_no=coupon["cpnNo"],
        nm=coupon["nm"],
        discount=format_discount(
            coupon["discTypeIdx"], float(coupon["disc"]), coupon["discCurrency"], language
        ),
        start=coupon["strtYmd"],
        end=coupon["endYmd"],
        state=state,
        used_at=None if last_use is None else local_time(last_use),
        uses_left=view.uses_left(coupon),
        image=settings["imgUrl"],
        url=settings["url"],
        color=settings["color"],
        background=settings["background"],
        sections=view.sections(template_shown(account, coupon, group)),
        onsite=view.onsite_form(coupon, state),
        nonce=secrets.token_urlsafe(16),
    )
