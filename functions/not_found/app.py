"""Every other route ($default): 404/4041 in the envelope, without touching storage."""

from coupons.errors import CouponError, ErrorCode
from coupons.http import Request, public_endpoint


@public_endpoint
def handler(request: Request) -> None:
    raise CouponError(ErrorCode.ROUTE_NOT_FOUND)
