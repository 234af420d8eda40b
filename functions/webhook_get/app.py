"""GET /api/coupon/v1/webhook -> {url, enabled, createdYmdt, updatedYmdt} or null."""

from coupons.http import Request, endpoint
from coupons.records import WebhookObject
from coupons.service.webhooks import get_webhook


@endpoint
def handler(request: Request) -> WebhookObject | None:
    return get_webhook(request.account)
