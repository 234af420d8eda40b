"""POST /api/coupon/v1/webhook/rotate-secret -> {secret}."""

from coupons.http import Request, endpoint
from coupons.service.webhooks import rotate_secret


@endpoint
def handler(request: Request) -> dict[str, str]:
    return rotate_secret(request.account)
