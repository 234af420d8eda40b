"""POST /api/coupon/v1/create -> the coupon code."""

from coupons.http import Request, endpoint
from coupons.idempotency import Replayed
from coupons.service import create_coupon


@endpoint
def handler(request: Request) -> str | Replayed:
    return create_coupon(request.account, request.json(), request.idempotency_key)
