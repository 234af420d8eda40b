"""POST /c/{token}/use (form: onsitePwd, nonce) -> the coupon's page after an on-site use."""

from coupons.page.view import CouponPage
from coupons.page.web import PageRequest, page_endpoint
from coupons.service.page import use_on_site


@page_endpoint
def handler(request: PageRequest) -> CouponPage:
    return use_on_site(request.token, request.form(), request.language)
