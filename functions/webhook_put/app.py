"""PUT /api/coupon/v1/webhook -> {url, enabled, secret} (the secret only when created)."""

from coupons.http import Request, endpoint
from coupons.models import WebhookRequest
from coupons.records import WebhookSet
from coupons.service.webhooks import set_webhook


@endpoint
def handler(request: Request) -> WebhookSet:
    return set_webhook(request.account, request.body(WebhookRequest))
