"""POST /api/coupon/v1/enable {cpnNo} -> the coupon code."""

from coupons.http import Request, endpoint
from coupons.models import CodeRequest
from coupons.service.coupons import enable_coupon


@endpoint
def handler(request: Request) -> str:
    return enable_coupon(request.account, request.body(CodeRequest))
