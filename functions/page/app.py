"""GET /c/{token} -> the coupon's public page (HTML, DESIGN 2.8)."""

from coupons.page.view import CouponPage
from coupons.page.web import PageRequest, page_endpoint
from coupons.service.page import coupon_page


@page_endpoint
def handler(request: PageRequest) -> CouponPage:
    return coupon_page(request.token, request.language)
