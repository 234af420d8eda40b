"""POST /api/coupon/v1/create/bulk -> the new coupon codes."""

from coupons.http import Request, endpoint
from coupons.idempotency import Replayed
from coupons.models import BulkCreateRequest
from coupons.service.coupons import create_coupons


@endpoint
def handler(request: Request) -> list[str] | Replayed[list[str]]:
    key = request.idempotency("create/bulk")
    return create_coupons(request.account, request.body(BulkCreateRequest), key)
