"""GET /api/coupon/v1/template/list?limit=&cursor= -> {items, cursor}, in tmplIdx order."""

from coupons.http import Request, endpoint
from coupons.queries import PageQuery
from coupons.records import Page, TemplateObject
from coupons.service.templates import list_templates


@endpoint
def handler(request: Request) -> Page[TemplateObject]:
    return list_templates(request.account, request.query(PageQuery))
