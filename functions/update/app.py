"""PUT /api/coupon/v1/update -> the coupon code."""

from coupons.http import Request, endpoint
from coupons.service import update_coupon


@endpoint
def handler(request: Request) -> str:
    return update_coupon(request.account, request.json())
