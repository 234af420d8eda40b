"""GET /api/coupon/v1/template?tmplIdx= -> the template object."""

from coupons.http import Request, endpoint
from coupons.queries import TemplateQuery
from coupons.records import TemplateObject
from coupons.service.templates import get_template


@endpoint
def handler(request: Request) -> TemplateObject:
    return get_template(request.account, request.query(TemplateQuery))
