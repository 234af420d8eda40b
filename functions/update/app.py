"""PUT /api/coupon/v1/update -> the coupon code."""

from coupons.http import Request, endpoint
from coupons.models import UpdateRequest
from coupons.service.coupons import update_coupon


@endpoint
def handler(request: Request) -> str:
    return update_coupon(request.account, request.body(UpdateRequest))
