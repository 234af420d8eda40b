"""DELETE /api/coupon/v1/delete?cpnNo= -> null."""

from coupons.http import Request, endpoint
from coupons.queries import CodeQuery
from coupons.service.coupons import delete_coupon


@endpoint
def handler(request: Request) -> None:
    delete_coupon(request.account, request.query(CodeQuery))
