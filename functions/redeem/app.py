"""POST|PUT /api/coupon/v1/redeem -> {rdmId, useCnt, remaining}."""

from typing import Any

from coupons.http import Request, endpoint
from coupons.idempotency import Replayed
from coupons.service import redeem_coupon


@endpoint
def handler(request: Request) -> dict[str, Any] | Replayed:
    return redeem_coupon(request.account, request.json(), request.idempotency_key)
