"""GET /api/coupon/v1/validate?cpnNo=&userId= -> the coupon object."""

from coupons.http import Request, endpoint
from coupons.queries import ValidateQuery
from coupons.records import CouponObject
from coupons.service.coupons import validate_coupon


@endpoint
def handler(request: Request) -> CouponObject:
    return validate_coupon(request.account, request.query(ValidateQuery), request.language)
