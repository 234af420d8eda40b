"""POST /api/coupon/v1/webhook/redeliver {id} -> the id."""

from coupons.http import Request, endpoint
from coupons.models import RedeliverRequest
from coupons.service.webhooks import redeliver


@endpoint
def handler(request: Request) -> str:
    return redeliver(request.account, request.body(RedeliverRequest))
