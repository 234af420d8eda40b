"""POST|PUT /api/coupon/v1/redeem -> {rdmId, useCnt, remaining}."""

from coupons.http import Request, endpoint
from coupons.idempotency import Replayed
from coupons.models import RedeemRequest
from coupons.records import UseResult
from coupons.service.redemptions import redeem_coupon


@endpoint
def handler(request: Request) -> UseResult | Replayed[UseResult]:
    key = request.idempotency("redeem")
    return redeem_coupon(request.account, request.body(RedeemRequest), key)
