"""GET /api/coupon/v1/webhook/deliveries?limit=&cursor= -> {items, cursor}, newest first."""

from coupons.http import Request, endpoint
from coupons.queries import PageQuery
from coupons.records import DeliveryView, Page
from coupons.service.webhooks import list_deliveries


@endpoint
def handler(request: Request) -> Page[DeliveryView]:
    return list_deliveries(request.account, request.query(PageQuery))
