"""On-site use from the coupon page on the real engine with real threads (DESIGN 2.8): the
button pressed twice, and two phones at once, count exactly one use of a single-use coupon."""

import re
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from urllib.parse import urlencode, urlsplit

import pytest

from devstack import http_client
from tests.conftest import Api

pytestmark = pytest.mark.integration
PASSWORD = "2468"


def _post(gateway_url: str, path: str, form: dict[str, str]) -> tuple[int, str]:
    answer = http_client.request(
        f"{gateway_url}{path}/use",
        method="POST",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=urlencode(form).encode(),
    )
    return answer.status, answer.body.decode()


def _nonce(gateway_url: str, path: str) -> str:
    html = http_client.request(gateway_url + path, method="GET").body.decode()
    found = re.search(r'name="nonce" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_double_presses_and_two_phones_count_one_use(api: Api, gateway_url: str) -> None:
    for _ in range(10):
        code = api.create(onsiteYn="Y", onsitePwd=PASSWORD, useLimit=1).result
        path = urlsplit(api.validate(code).result["pageUrl"]).path
        phones = [_nonce(gateway_url, path) for _ in range(2)]  # two pages opened
        presses = [
            partial(_post, gateway_url, path, {"onsitePwd": PASSWORD, "nonce": nonce})
            for nonce in phones
            for _ in range(3)  # each pressed three times
        ]
        with ThreadPoolExecutor(max_workers=len(presses)) as pool:
            answers = list(pool.map(lambda press: press(), presses))
        assert api.validate(code).code == 4222
        history = api.redemptions(code).result["items"]
        assert len(history) == 1, history
        used = [html for status, html in answers if status == 200]
        refused = [(status, html) for status, html in answers if status != 200]
        # The phone that won sees its use (again, on a press replayed); the other phone, and a
        # press of the winner's that found the coupon used up before its replay, are told so.
        assert 1 <= len(used) <= 3 and all("Coupon used on" in html for html in used)
        assert len(refused) >= 3 and all(status in (409, 422) for status, _ in refused), refused
