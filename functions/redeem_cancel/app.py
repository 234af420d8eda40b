"""POST /api/coupon/v1/redeem/cancel -> {rdmId, useCnt, remaining}: one use given back."""

from coupons.http import Request, endpoint
from coupons.idempotency import Replayed
from coupons.models import CancelRequest
from coupons.records import UseResult
from coupons.service.redemptions import cancel_redemption


@endpoint
def handler(request: Request) -> UseResult | Replayed[UseResult]:
    key = request.idempotency("redeem/cancel")
    return cancel_redemption(request.account, request.body(CancelRequest), key)
