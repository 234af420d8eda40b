"""POST /api/coupon/v1/redeem/cancel -> {rdmId, useCnt, remaining}: one use given back."""

from typing import Any

from coupons.http import Request, endpoint
from coupons.idempotency import Replayed
from coupons.service import cancel_redemption


@endpoint
def handler(request: Request) -> dict[str, Any] | Replayed:
    return cancel_redemption(request.account, request.json(), request.idempotency_key)
