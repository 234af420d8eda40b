"""DELETE /api/coupon/v1/template/delete?tmplIdx= -> null."""

from coupons.http import Request, endpoint
from coupons.queries import TemplateQuery
from coupons.service.templates import delete_template


@endpoint
def handler(request: Request) -> None:
    delete_template(request.account, request.query(TemplateQuery))
