"""POST /api/coupon/v1/create/bulk -> the new coupon codes."""

from coupons.http import Request, endpoint
from coupons.idempotency import Replayed
from coupons.service import create_coupons


@endpoint
def handler(request: Request) -> list[str] | Replayed:
    return create_coupons(request.account, request.json(), request.idempotency_key)
