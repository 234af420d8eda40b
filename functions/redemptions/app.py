"""GET /api/coupon/v1/redemptions?cpnNo=&limit=&cursor= -> {items, cursor}, newest first."""

from typing import Any

from coupons.http import Request, endpoint
from coupons.queries import list_redemptions


@endpoint
def handler(request: Request) -> dict[str, Any]:
    return list_redemptions(
        request.account, request.param("cpnNo"), request.param("limit"), request.param("cursor")
    )
