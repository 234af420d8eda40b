"""openapi.yaml: exactly what devstack/openapi.py generates from the code, every route and
error code in it, and a valid OpenAPI 3.1 document that schemathesis can load."""

from decimal import Decimal
from typing import Any, cast, get_type_hints

import jsonschema_rs
import pytest
import schemathesis
import yaml
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from coupons import models
from coupons.errors import ErrorCode
from coupons.messages import CATALOG
from coupons.page import tokens
from coupons.pricing import CURRENCIES, Order, quote
from coupons.records import (
    DeliveryView,
    GroupObject,
    RedemptionRecord,
    StoredCoupon,
    StoredGroup,
    StoredTemplate,
    WebhookObject,
    WebhookSet,
)
from coupons.service import webhooks as webhook_service
from coupons.service.groups import group_object
from coupons.service.templates import template_object
from coupons.views import priced, redemption_view, shown
from coupons.webhooks import signing
from coupons.webhooks.events import event_id
from devstack import openapi
from devstack.openapi import BASE_PATH, OPENAPI_PATH
from devstack.samples import coupon_fields
from devstack.template import routes

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), BASE_PATH + path): operation
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _codes(doc: dict[str, Any], response: dict[str, Any]) -> set[int]:
    """The envelope codes a documented response allows."""
    schema = _resolve(doc, response["content"]["application/json"]["schema"])
    parts = schema.get("allOf", [schema])
    code = next(p["properties"]["code"] for p in parts if "code" in p.get("properties", {}))
    code = _resolve(doc, code)
    return {code["const"]} if "const" in code else set(code["enum"])


def test_the_committed_file_is_what_the_generator_writes() -> None:
    assert OPENAPI_PATH.read_text(encoding="utf-8") == openapi.render(), (
        "openapi.yaml is stale: run `make openapi`"
    )


def test_every_template_route_is_documented_and_nothing_else(doc: dict[str, Any]) -> None:
    """Every route of the JSON API; the public coupon page's (HTML, at the domain's root, no
    API key) are left out on purpose (openapi.PAGE_ROUTES)."""
    everything = {r for r in routes() if r.path != "$default"}
    pages = {r for r in everything if r.route_key in openapi.PAGE_ROUTES}
    assert {r.route_key for r in pages} == openapi.PAGE_ROUTES  # none of them gone stale
    assert all(not r.path.startswith(BASE_PATH + "/") for r in pages)
    deployed = {(r.method, r.path) for r in everything - pages}
    assert len(deployed) == 27
    assert set(_operations(doc)) == deployed
    assert doc["servers"][-1]["url"].endswith(BASE_PATH)


def test_every_error_code_is_documented_with_its_status(doc: dict[str, Any]) -> None:
    returned: set[int] = set()
    for (method, path), operation in _operations(doc).items():
        responses = operation["responses"]
        for status, response in responses.items():
            assert (status == "200") == (_codes(doc, _resolve(doc, response)) == {0})
            for code in _codes(doc, _resolve(doc, response)) - {0}:
                assert CATALOG[ErrorCode(code)][0] == int(status), (method, path, code)
                returned.add(code)
        # Every route can refuse the request or the caller, fail and be throttled.
        assert {"200", "400", "401", "500", "503"} <= set(responses), (method, path)
    returned |= _codes(doc, doc["components"]["responses"]["RouteNotFound"])
    every_code = {int(code) for code in CATALOG if code != ErrorCode.OK}
    assert returned == every_code
    assert set(doc["components"]["schemas"]["ErrorCode"]["enum"]) == every_code
    for method in ("POST", "PUT"):
        redeem = _operations(doc)[(method, f"{BASE_PATH}/redeem")]["responses"]
        assert _codes(doc, _resolve(doc, redeem["429"])) == {4290}
        assert "Retry-After" in _resolve(doc, redeem["429"])["headers"]


def test_idempotency_key_is_documented_where_it_is_read(doc: dict[str, Any]) -> None:
    keyed = {
        key
        for key, operation in _operations(doc).items()
        if {"$ref": "#/components/parameters/IdempotencyKey"} in operation["parameters"]
    }
    assert keyed == {
        ("POST", f"{BASE_PATH}/create"),
        ("POST", f"{BASE_PATH}/create/bulk"),
        ("POST", f"{BASE_PATH}/redeem"),
        ("PUT", f"{BASE_PATH}/redeem"),
        ("POST", f"{BASE_PATH}/redeem/cancel"),
    }
    for key in keyed:
        assert "Idempotent-Replayed" in _operations(doc)[key]["responses"]["200"]["headers"]


def test_request_bodies_are_the_models_schemas(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    bodies: list[type[models.Body]] = [
        models.CreateRequest,
        models.BulkCreateRequest,
        models.UpdateRequest,
        models.RedeemRequest,
        models.CancelRequest,
        models.CodeRequest,
        models.TemplateText,
        models.TemplateUpdateRequest,
        models.GroupFields,
        models.GroupUpdateRequest,
        models.WebhookRequest,
        models.RedeliverRequest,
    ]
    for model in bodies:
        own = model.model_json_schema()
        documented = schemas[model.__name__]
        assert documented["required"] == own["required"]
        assert set(own["properties"]) <= set(documented["properties"])
    # Optional fields accept null (absent); update takes every term of the coupon.
    assert schemas["RedeemRequest"]["properties"]["memo"]["type"] == ["string", "null"]
    assert set(schemas["UpdateRequest"]["properties"]) == set(models.TERM_FIELDS) | {"cpnNo"}
    # Template update takes every text field, none of them required.
    template_update = schemas["TemplateUpdateRequest"]
    assert set(template_update["properties"]) == set(models.TEMPLATE_FIELDS) | {"tmplIdx"}
    assert template_update["required"] == ["tmplIdx"]
    assert template_update["properties"]["nm"]["type"] == ["string", "null"]
    # Group update takes every field of the group, none of them required.
    group_update = schemas["GroupUpdateRequest"]
    assert set(group_update["properties"]) == set(models.GROUP_FIELDS) | {"grpIdx"}
    assert group_update["required"] == ["grpIdx"]
    assert group_update["properties"]["nm"]["type"] == ["string", "null"]
    every_field = {name for model in bodies for name in model.fields()}
    assert set(openapi.FIELD_NOTES) | set(openapi.FIELD_PATTERNS) <= every_field
    assert {
        name for model, name in openapi.MODEL_FIELD_NOTES if name in getattr(models, model).fields()
    } == {name for _, name in openapi.MODEL_FIELD_NOTES}


def test_the_coupon_object_matches_its_schema(doc: dict[str, Any]) -> None:
    terms = models.parse(models.CreateRequest, coupon_fields(memo="m")).model_dump()
    stored = {
        **terms,
        **{"cpnNo": "WELCOME2026", "useCnt": 0, "regTs": 1_790_000_000_000},
        **{"cid": "01a22b4f5d7d4d5cd55f452d", "pageKey": tokens.new_key()},
    }
    seen = shown("acct_0123456789abcdef", cast(StoredCoupon, stored), None, "ko")
    schema = doc["components"]["schemas"]["Coupon"]
    assert set(schema["required"]) == set(seen) == set(schema["properties"])
    jsonschema_rs.Draft202012Validator(schema).validate(seen)
    assert seen["pageUrl"].startswith(seen["domain"] + "/c/")


def test_what_checkout_rules_add_matches_the_schemas(doc: dict[str, Any]) -> None:
    """Validate's coupon object with an order and a user, redeem's priced result and a
    redemption item with and without an order (DESIGN 2.6)."""
    schemas = doc["components"]["schemas"]
    terms = models.parse(
        models.CreateRequest,
        coupon_fields(discTypeIdx=457, disc=10, useLimit=0, perUserLimit=2, minOrderAmt=20),
    ).model_dump()
    stored = {**terms, "cpnNo": "WELCOME2026", "useCnt": 1, "regTs": 1_790_000_000_000}
    stored |= {"cid": "01a22b4f5d7d4d5cd55f452d", "pageKey": tokens.new_key()}
    coupon = cast(StoredCoupon, stored)
    prices = priced(quote(coupon, Order(Decimal("120.25"), "USD")), "en")
    assert prices == {
        "discAmt": 12.03,
        "payAmt": 108.22,
        "formatDiscAmt": "$12.03",
        "formatPayAmt": "$108.22",
    }
    text = {"nm": "Spring sale", "description": "a\nb", "usage": "", "precautions": ""}
    seen = {
        **shown("acct_0123456789abcdef", coupon, None, "en"),
        **prices,
        "userUseCnt": 1,
        "userRemaining": 1,
        "template": text,
    }
    validated = schemas["ValidatedCoupon"]
    assert set(validated["properties"]) == set(seen)
    assert set(validated["required"]) == set(schemas["Coupon"]["required"])
    jsonschema_rs.Draft202012Validator(validated).validate(seen)
    jsonschema_rs.Draft202012Validator(validated).validate({**seen, "template": None})
    with pytest.raises(jsonschema_rs.ValidationError):  # the template's text, nothing else
        jsonschema_rs.Draft202012Validator(validated).validate(
            {**seen, "template": {**text, "tmplIdx": 1}}
        )
    with pytest.raises(jsonschema_rs.ValidationError):  # the list's coupon adds nothing
        jsonschema_rs.Draft202012Validator(schemas["Coupon"]).validate(seen)
    use_result = jsonschema_rs.Draft202012Validator(schemas["UseResult"])
    use_result.validate({"rdmId": "01a2013a7b53ff9d63c5581c", "useCnt": 2, "remaining": None})
    use_result.validate(
        {"rdmId": "01a2013a7b53ff9d63c5581c", "useCnt": 2, "remaining": 7, **prices}
    )
    record: dict[str, Any] = {
        "rdmId": "01a2013a7b53ff9d63c5581c",
        "userId": "u1",
        "memo": "",
        "status": "REDEEMED",
        "regTs": 1_790_000_000_000,
    }
    redemption = jsonschema_rs.Draft202012Validator(schemas["Redemption"])
    for kept in ({}, {"amount": 120.25, "currency": "USD", "discAmt": Decimal("12.03")}):
        view = redemption_view(cast(RedemptionRecord, {**record, **kept}))
        assert set(view) == set(schemas["Redemption"]["required"])
        redemption.validate(view)


def test_new_refusals_and_parameters_are_on_their_operations(doc: dict[str, Any]) -> None:
    operations = _operations(doc)

    def refusals(method: str, path: str) -> set[int]:
        responses = operations[(method, BASE_PATH + path)]["responses"]
        return {
            c for s, r in responses.items() if s != "200" for c in _codes(doc, _resolve(doc, r))
        }

    checkout = {4228, 4229, 4230, 4231}
    assert checkout <= refusals("GET", "/validate")
    assert checkout | {4223} <= refusals("POST", "/redeem") == refusals("PUT", "/redeem")
    assert 4223 not in refusals("GET", "/validate")
    validate = {
        p["name"]: p
        for p in operations[("GET", f"{BASE_PATH}/validate")]["parameters"]
        if "name" in p
    }
    assert {"amount", "currency"} <= set(validate)
    assert validate["currency"]["schema"]["enum"] == list(CURRENCIES)
    # The seed spelling ?cpNo= where ?cpnNo= is read, deprecated.
    for path in ("/validate", "/delete", "/redemptions"):
        method = "DELETE" if path == "/delete" else "GET"
        names = {p.get("name"): p for p in operations[(method, BASE_PATH + path)]["parameters"]}
        assert names["cpNo"]["deprecated"] is True and not names["cpNo"]["required"]
    redeem = doc["components"]["schemas"]["RedeemRequest"]["properties"]
    assert {"amount", "currency"} <= set(redeem)


def test_the_template_object_matches_its_schema(doc: dict[str, Any]) -> None:
    text = models.parse(models.TemplateText, {"nm": "Spring sale", "usage": "a\nb"}).model_dump()
    stored = {**text, "tmplIdx": 3, "regTs": 1_790_000_000_000}
    shown = template_object(cast(StoredTemplate, stored))
    schemas = doc["components"]["schemas"]
    schema = schemas["Template"]
    assert set(schema["required"]) == set(shown) == set(schema["properties"])
    jsonschema_rs.Draft202012Validator(schema).validate(shown)
    page = {**doc, **schemas["TemplatePage"]}  # resolves the $ref to Template
    jsonschema_rs.Draft202012Validator(page).validate({"items": [shown], "cursor": None})


def test_template_refusals_are_on_their_operations(doc: dict[str, Any]) -> None:
    operations = _operations(doc)

    def refusals(method: str, path: str) -> set[int]:
        responses = operations[(method, BASE_PATH + path)]["responses"]
        return {
            c for s, r in responses.items() if s != "200" for c in _codes(doc, _resolve(doc, r))
        }

    assert {4043, 4093} & refusals("POST", "/template/create") == set()
    assert {4043, 4093} & refusals("GET", "/template/list") == set()
    for method, path in (("PUT", "/template/update"), ("GET", "/template")):
        assert 4043 in refusals(method, path) and 4093 not in refusals(method, path)
    assert {4043, 4093} <= refusals("DELETE", "/template/delete")
    for method, path in (("GET", "/template"), ("DELETE", "/template/delete")):
        names = {p.get("name"): p for p in operations[(method, BASE_PATH + path)]["parameters"]}
        assert names["tmplIdx"]["required"] is True
        assert names["tmplIdx"]["schema"]["minimum"] == 1


def test_the_group_object_matches_its_schema(doc: dict[str, Any]) -> None:
    sent = {"nm": "Spring sale", "imgUrl": "https://shop.example.com/s.png", "color": "#FFF"}
    fields = models.parse(models.GroupFields, {**sent, "tmplIdx": 1}).model_dump()
    stored = {**fields, "grpIdx": 2, "couponCnt": 3, "regTs": 1_790_000_000_000}
    shown = dict(group_object(cast(StoredGroup, stored)))
    schemas = doc["components"]["schemas"]
    schema = schemas["Group"]
    assert set(schema["required"]) == set(shown) == set(schema["properties"])
    assert set(shown) == set(get_type_hints(GroupObject))
    validator = jsonschema_rs.Draft202012Validator(schema)
    validator.validate(shown)
    page = {**doc, **schemas["GroupPage"]}  # resolves the $ref to Group
    jsonschema_rs.Draft202012Validator(page).validate({"items": [shown], "cursor": None})
    for color in ("#0B6E4F", "#0B6E4F80", ""):  # a colour, or "" for none
        validator.validate({**shown, "background": color})
    with pytest.raises(jsonschema_rs.ValidationError):
        validator.validate({**shown, "color": "white"})


def test_group_refusals_are_on_their_operations(doc: dict[str, Any]) -> None:
    operations = _operations(doc)

    def refusals(method: str, path: str) -> set[int]:
        responses = operations[(method, BASE_PATH + path)]["responses"]
        return {
            c for s, r in responses.items() if s != "200" for c in _codes(doc, _resolve(doc, r))
        }

    # A group or template that does not exist, named in a body, is 4001 on the field.
    assert {4042, 4043, 4093} & refusals("POST", "/group/create") == set()
    assert 4001 in refusals("POST", "/group/create")
    assert {4042, 4093} & refusals("GET", "/group/list") == set()
    for method, path in (("PUT", "/group/update"), ("GET", "/group")):
        assert 4042 in refusals(method, path) and 4093 not in refusals(method, path)
    assert {4042, 4093} <= refusals("DELETE", "/group/delete")
    for method, path in (("GET", "/group"), ("DELETE", "/group/delete")):
        names = {p.get("name"): p for p in operations[(method, BASE_PATH + path)]["parameters"]}
        assert names["grpIdx"]["required"] is True
        assert names["grpIdx"]["schema"]["minimum"] == 1
    # 4042 only where a group is named in the query or as the one to update.
    group_routes = {("PUT", "/group/update"), ("GET", "/group"), ("DELETE", "/group/delete")}
    for method, path in operations:
        if (method, path.removeprefix(BASE_PATH)) not in group_routes:
            assert 4042 not in refusals(method, path.removeprefix(BASE_PATH)), (method, path)


def test_it_is_valid_openapi_that_schemathesis_loads(doc: dict[str, Any]) -> None:
    OPENAPI_31_VALIDATOR.validate(doc)
    schema = schemathesis.openapi.from_path(OPENAPI_PATH)
    loaded = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in loaded), loaded
    labels = {result.ok().label for result in loaded if isinstance(result, Ok)}
    assert labels == {f"{method} {path[len(BASE_PATH) :]}" for method, path in _operations(doc)}


def test_the_webhook_objects_match_their_schemas(doc: dict[str, Any]) -> None:
    """What PUT /webhook, GET /webhook, rotate-secret and the delivery log answer (DESIGN
    2.9), as the layer makes them."""
    schemas = doc["components"]["schemas"]
    operations = _operations(doc)

    def result(method: str, path: str) -> dict[str, Any]:
        ok = operations[(method, BASE_PATH + path)]["responses"]["200"]
        schema = ok["content"]["application/json"]["schema"]["properties"]["result"]
        return {**doc, **schema}  # resolves its $refs

    secret = signing.new_secret()
    url = "https://shop.example.com/hooks"
    webhook_set = jsonschema_rs.Draft202012Validator(result("PUT", "/webhook"))
    for made in (secret, None):  # shown when created, else null
        sent: WebhookSet = {"url": url, "enabled": True, "secret": made}
        webhook_set.validate(dict(sent))
    assert set(schemas["WebhookSet"]["required"]) == set(get_type_hints(WebhookSet))
    got: WebhookObject = {
        "url": url,
        "enabled": False,
        "createdYmdt": "2026-11-22 09:00:00",
        "updatedYmdt": "2026-11-22 09:00:00",
    }
    webhook = jsonschema_rs.Draft202012Validator(result("GET", "/webhook"))
    webhook.validate(dict(got))
    webhook.validate(None)  # none set
    with pytest.raises(jsonschema_rs.ValidationError):  # never the secret
        webhook.validate({**got, "secret": secret})
    assert set(schemas["Webhook"]["required"]) == set(get_type_hints(WebhookObject))
    jsonschema_rs.Draft202012Validator(result("POST", "/webhook/rotate-secret")).validate(
        {"secret": secret}
    )
    evt = event_id("acct_0123456789abcdef", "WELCOME2026", "01a22b4f5d7d4d5cd55f452d", "", "x", 1)
    jsonschema_rs.Draft202012Validator(result("POST", "/webhook/redeliver")).validate(evt)
    stored = {
        "id": evt,
        "type": "coupon.redeemed",
        "cpnNo": "WELCOME2026",
        "status": "PENDING",
        "attempts": 0,
        "createdTs": 1_790_000_000_000,
    }
    tried = {**stored, "status": "RETRYING", "attempts": 2, "lastStatus": 500}
    tried |= {"lastError": "HTTP 500", "lastAttemptTs": 1_790_000_030_000}
    page = jsonschema_rs.Draft202012Validator(result("GET", "/webhook/deliveries"))
    views: list[DeliveryView] = [webhook_service._view(item) for item in (stored, tried)]
    page.validate({"items": views, "cursor": None})
    assert set(schemas["Delivery"]["required"]) == set(get_type_hints(DeliveryView))


def test_webhook_refusals_are_on_their_operations(doc: dict[str, Any]) -> None:
    operations = _operations(doc)

    def refusals(method: str, path: str) -> set[int]:
        responses = operations[(method, BASE_PATH + path)]["responses"]
        return {
            c for s, r in responses.items() if s != "200" for c in _codes(doc, _resolve(doc, r))
        }

    # 4044 (no webhook set) only where one must exist, 4045 (no such delivery) only on redeliver.
    for method, path in operations:
        route = (method, path.removeprefix(BASE_PATH))
        found = refusals(*route)
        assert (4044 in found) is (route == ("POST", "/webhook/rotate-secret")), route
        assert (4045 in found) is (route == ("POST", "/webhook/redeliver")), route
    assert 4001 in refusals("PUT", "/webhook")  # a URL that is not https to a public address
    names = {
        p.get("name") for p in operations[("GET", f"{BASE_PATH}/webhook/deliveries")]["parameters"]
    }
    assert {"limit", "cursor"} <= names
    assert "requestBody" not in operations[("POST", f"{BASE_PATH}/webhook/rotate-secret")]
