"""POST /api/coupon/v1/create -> the coupon code."""

from coupons.http import Request, endpoint
from coupons.idempotency import Replayed
from coupons.models import CreateRequest
from coupons.service.coupons import create_coupon


@endpoint
def handler(request: Request) -> str | Replayed[str]:
    key = request.idempotency("create")
    return create_coupon(request.account, request.body(CreateRequest), key)
