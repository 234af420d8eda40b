"""GET /api/coupon/v1/validate?cpnNo=&userId= -> the coupon object."""

from typing import Any

from coupons.http import Request, endpoint
from coupons.queries import validate_coupon


@endpoint
def handler(request: Request) -> dict[str, Any]:
    return validate_coupon(
        request.account, request.param("cpnNo"), request.param("userId"), request.language
    )
