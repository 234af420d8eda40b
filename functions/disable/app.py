"""POST /api/coupon/v1/disable {cpnNo} -> the coupon code."""

from coupons.http import Request, endpoint
from coupons.models import CodeRequest
from coupons.service.coupons import disable_coupon


@endpoint
def handler(request: Request) -> str:
    return disable_coupon(request.account, request.body(CodeRequest))
