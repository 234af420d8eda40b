"""POST|PUT /api/coupon/v1/redeem -> {rdmId, useCnt, remaining}."""

from coupons.http import Request, endpoint
from coupons.idempotency import Replayed
from coupons.models import RedeemRequest
from coupons.records import UseResult
from coupons.service.redemptions import redeem_coupon


@endpoint
def handler(request: Request) -> UseResult | Replayed[UseResult]:
    # The password is judged by the redemption (lockout included), never by a replay's 4226.
    key = request.idempotency("redeem", private=["onsitePwd"])
    return redeem_coupon(request.account, request.body(RedeemRequest), key, request.language)
