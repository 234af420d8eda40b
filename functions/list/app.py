"""GET /api/coupon/v1/list?limit=&cursor=&grpIdx=&userId= -> {items, cursor}, newest first."""

from coupons.http import Request, endpoint
from coupons.queries import ListQuery
from coupons.records import CouponObject, Page
from coupons.service.listing import list_coupons


@endpoint
def handler(request: Request) -> Page[CouponObject]:
    return list_coupons(request.account, request.query(ListQuery), request.language)
