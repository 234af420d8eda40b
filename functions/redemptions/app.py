"""GET /api/coupon/v1/redemptions?cpnNo=&limit=&cursor= -> {items, cursor}, newest first."""

from coupons.http import Request, endpoint
from coupons.queries import HistoryQuery
from coupons.records import Page, RedemptionView
from coupons.service.redemptions import redemption_history


@endpoint
def handler(request: Request) -> Page[RedemptionView]:
    return redemption_history(request.account, request.query(HistoryQuery))
