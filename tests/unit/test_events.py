"""Every events/ file (the ones `sam local invoke -e` takes) runs through its handler."""

import json
import socket
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from coupons import accounts, clock
from devstack.gateway import LambdaContext
from tests.conftest import ROUTES, load_handler

EVENTS = Path(__file__).resolve().parents[2] / "events"
# In the order a checkout would use them; what each must answer (the envelope's code; for the
# coupon page, which answers HTML, the HTTP status).
FLOW = [("create", 0), ("create_bulk", 0), ("validate", 0), ("update", 0), ("page", 200),
        ("redeem", 0), ("redemptions", 0), ("list", 0), ("redeem_cancel", 0), ("page_use", 200),
        ("disable", 0), ("enable", 0),
        ("delete", 0), ("template_create", 0), ("template_update", 0), ("template_get", 0),
        ("template_list", 0), ("group_create", 0), ("group_update", 0), ("group_get", 0),
        ("group_list", 0), ("group_delete", 0), ("template_delete", 0),
        ("webhook_put", 0), ("webhook_get", 0), ("webhook_rotate", 0), ("webhook_deliveries", 0),
        ("webhook_redeliver", 4045),
        ("not_found", 4041)]  # fmt: skip
# group_create names the template template_create made; group_delete runs before
# template_delete, which a group referring to the template would refuse (4093).
# The page events carry a placeholder token (a page's token is drawn when its coupon is
# made): here, the token of the pageUrl validate answered. page_use uses the coupon on site
# (its password, from create) once redeem_cancel has given its one use back.
PAGES = {"page", "page_use"}
PLACEHOLDER_TOKEN = "TOKEN_FROM_PAGEURL"
# webhook_put sets a public https URL, whose name is resolved and checked when it is set
# (coupons.webhooks.targets): here, offline, that name resolves to a public address (any
# other name as usual). No stream runs in these tests, so no event is delivered:
# webhook_deliveries lists none, and webhook_redeliver's example id is 4045.
WEBHOOK_HOST, WEBHOOK_ADDRESS = "shop.example.com", "93.184.215.14"


def _resolving_the_webhook_host(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == WEBHOOK_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (WEBHOOK_ADDRESS, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _with_token(event: dict[str, Any], token: str) -> dict[str, Any]:
    text = json.dumps(event).replace(PLACEHOLDER_TOKEN, token)
    with_token: dict[str, Any] = json.loads(text)
    return with_token


def test_there_is_one_event_per_function() -> None:
    functions = {route.code_dir.name for route in ROUTES.values()}
    events = {path.stem for path in EVENTS.glob("*.json")} - {"env"}
    assert events == functions == {name for name, _ in FLOW}


def test_every_event_runs_through_its_handler(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The events carry fixed dates; run them on a day inside the coupon's period.
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 22))
    _resolving_the_webhook_host(monkeypatch)
    answers: dict[str, Any] = {}
    for name, expected in FLOW:
        event = json.loads((EVENTS / f"{name}.json").read_text())
        if name == "redeem_cancel":  # cancel the redemption the redeem event just made
            body = json.loads(event["body"])
            event["body"] = json.dumps({**body, "rdmId": answers["redeem"]["result"]["rdmId"]})
        if name in PAGES:  # public: no API key
            assert "authorization" not in event["headers"]
            page_url = answers["validate"]["result"]["pageUrl"]
            event = _with_token(event, urlsplit(page_url).path.split("/")[2])
        else:
            key = event["headers"]["authorization"].split()[1]
            accounts.ensure_account_with_key("events", key)
        route = ROUTES[event["routeKey"]]
        assert route.code_dir.name == name
        answer = load_handler(route)(event, LambdaContext(route))
        if name in PAGES:
            assert answer["headers"]["Content-Type"].startswith("text/html"), name
            answers[name] = answer["body"]
            assert answer["statusCode"] == expected, (name, answer["body"])
            continue
        body = answers[name] = json.loads(answer["body"])
        assert body["code"] == expected, (name, body)
    assert len(answers["create_bulk"]["result"]) == 3
    # validate and redeem price an order of 25.50 USD (DESIGN 2.6): with the created $5 off,
    # then with the updated $6 off.
    fields = ("discAmt", "payAmt", "formatDiscAmt", "formatPayAmt")
    assert [answers["validate"]["result"][k] for k in fields] == [5, 20.5, "$5.00", "$20.50"]
    assert [answers["redeem"]["result"][k] for k in fields] == [6, 19.5, "$6.00", "$19.50"]
    [redeemed] = answers["redemptions"]["result"]["items"]
    assert redeemed["status"] == "REDEEMED"
    assert (redeemed["amount"], redeemed["currency"], redeemed["discAmt"]) == (25.5, "USD", 6)
    assert "WELCOME2026" in [item["cpnNo"] for item in answers["list"]["result"]["items"]]
    assert answers["redeem_cancel"]["result"]["useCnt"] == 0
    # The page shows the coupon with the updated discount; the on-site use counted it.
    assert "WELCOME2026" in answers["page"] and "$6" in answers["page"]
    assert "att78z" not in answers["page"] + answers["page_use"]  # never the user fields
    assert answers["disable"]["result"] == answers["enable"]["result"] == "WELCOME2026"
    assert answers["template_create"]["result"] == answers["template_update"]["result"] == 1
    assert answers["template_get"]["result"]["usage"].endswith("enter the code online.")
    assert [t["tmplIdx"] for t in answers["template_list"]["result"]["items"]] == [1]
    assert answers["group_create"]["result"] == answers["group_update"]["result"] == 1
    group = answers["group_get"]["result"]
    assert (group["grpIdx"], group["nm"], group["tmplIdx"]) == (1, "Spring sale", 1)
    assert (group["color"], group["background"]) == ("#FFFFFF", "#1D3557")  # the update's
    assert group["couponCnt"] == 0
    assert [g["grpIdx"] for g in answers["group_list"]["result"]["items"]] == [1]
    assert answers["group_delete"]["result"] is None
    _check_webhook_answers(answers)


def _check_webhook_answers(answers: dict[str, Any]) -> None:
    """The webhook: its secret shown when it is made and when rotated, never by GET."""
    webhook = answers["webhook_put"]["result"]
    assert webhook["url"] == f"https://{WEBHOOK_HOST}/hooks/coupons" and webhook["enabled"]
    assert webhook["secret"].startswith("whsec_")
    assert answers["webhook_get"]["result"]["url"] == webhook["url"]
    assert "secret" not in answers["webhook_get"]["result"]
    assert answers["webhook_rotate"]["result"]["secret"] not in ("", webhook["secret"])
    assert answers["webhook_deliveries"]["result"] == {"items": [], "cursor": None}


def test_env_json_points_sam_local_at_dynamodb_local() -> None:
    env = json.loads((EVENTS / "env.json").read_text())["Parameters"]
    assert env["AWS_ENDPOINT_URL_DYNAMODB"].startswith("http://")
    assert env["TABLE_NAME"] == "coupons-dev"
