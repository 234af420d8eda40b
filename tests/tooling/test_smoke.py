"""`make smoke`: devstack/smoke.py against `make dev`'s stack, as an operator runs it against a
deployed one; and what it says when the key, the URL or the server is wrong."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from coupons.rules import latest_end_date
from devstack import http_client, serve, smoke
from devstack.dynamodb_local import free_port
from devstack.template import REPO_ROOT, load_template
from tests.tooling.conftest import DevStack

CHECKS = [
    "create",
    "create replay",
    "validate",
    "redeem",
    "redeem replay",
    "redeem again",
    "cancel",
    "redemptions",
    "list",
    "update memo",
    "no api key",
    "unknown route",
    "delete",
    "validate deleted",
]


def run_smoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack.smoke", *args],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def get(stack: DevStack, route: str, **query: str) -> Any:
    answer = http_client.request(
        f"{stack.base_url}{route}?{urlencode(query)}",
        headers={"Authorization": f"APIKey {stack.key}"},
    )
    return answer.json()


def smoke_coupons(stack: DevStack) -> list[str]:
    """Every code of the dev account starting with SMOKE (all pages of the listing)."""
    codes: list[str] = []
    query = {"limit": "100"}
    while True:
        page = get(stack, "/list", **query)["result"]
        codes += [item["cpnNo"] for item in page["items"]]
        if not page["cursor"]:
            return [code for code in codes if code.startswith("SMOKE")]
        query["cursor"] = page["cursor"]


def created_code(output: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith("ok   create "))
    code = line.split()[-1]
    assert code.startswith("SMOKE"), line
    return code


# --- against make dev ------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("form", ["ApiUrl", "stage URL", "make smoke"])
def test_smoke_passes_against_make_dev_and_deletes_its_coupon(
    dev_stack: DevStack, form: str
) -> None:
    api = dev_stack.base_url if form == "ApiUrl" else f"http://127.0.0.1:{dev_stack.port}/"
    if form == "make smoke":  # as the README says: the key in the environment, not in argv
        done = subprocess.run(
            ["make", "-s", "smoke", f"API={dev_stack.base_url}"],
            check=False,
            env={**os.environ, "KEY": dev_stack.key},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    else:
        done = run_smoke("--api", api, "--key", dev_stack.key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    *lines, summary = done.stdout.splitlines()
    assert [line[:5] for line in lines] == ["ok   "] * len(CHECKS), done.stdout
    assert [line[5:22].strip() for line in lines] == CHECKS
    assert summary.startswith(f"smoke: all {len(CHECKS)} checks passed"), summary
    assert f"({dev_stack.base_url})" in summary  # normalised to the API's base URL
    code = created_code(done.stdout)
    assert smoke_coupons(dev_stack) == []
    assert get(dev_stack, "/validate", cpnNo=code)["code"] == 4040


@pytest.mark.integration
def test_a_wrong_key_fails_in_one_readable_line_and_creates_nothing(dev_stack: DevStack) -> None:
    done = run_smoke("--api", dev_stack.base_url, "--key", "not-a-key-of-this-stack")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "FAIL create: expected HTTP 200 code 0, got HTTP 401 code 4010: "
        "Missing or invalid API key. (is --key an API key of this stack?)"
    )
    # What needs no coupon still runs; the rest is skipped, in one line; nothing to delete.
    assert [line[:5] for line in lines[1:3]] == ["ok   ", "ok   "]
    assert lines[3].startswith("skip create replay, validate, ")
    assert lines[3].endswith("(after create failed)")
    assert lines[4].startswith(f"smoke: 1 of {len(CHECKS)} checks failed, 11 skipped")
    assert len(lines) == 5
    assert smoke_coupons(dev_stack) == []


@pytest.mark.integration
@pytest.mark.parametrize(
    ("error", "status"),
    [(smoke.CheckFailed("made to fail"), 1), (KeyboardInterrupt(), 130)],
    ids=["failed check", "interrupted"],
)
def test_its_coupon_is_deleted_when_a_step_fails(
    dev_stack: DevStack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: BaseException,
    status: int,
) -> None:
    def failing(_: smoke.Smoke) -> None:  # replaces a check that runs after create
        raise error

    monkeypatch.setattr(smoke.Smoke, "redemptions", failing)
    assert smoke.main(["--api", dev_stack.base_url, "--key", dev_stack.key]) == status
    out = capsys.readouterr().out
    code = created_code(out)
    assert f"{code} deleted" in out.splitlines()[-2 if status == 1 else -1]
    if status == 1:
        assert "FAIL redemptions: made to fail" in out
        assert "skip list, update memo, delete, validate deleted (after redemptions failed)" in out
    assert smoke_coupons(dev_stack) == []
    assert get(dev_stack, "/validate", cpnNo=code)["code"] == 4040


# --- no stack, or not the API --------------------------------------------------------------


def test_nothing_listening_is_one_line() -> None:
    port = free_port()
    done = run_smoke("--api", f"http://127.0.0.1:{port}", "--key", "k")
    assert done.returncode == 1
    assert done.stderr == ""
    assert done.stdout.count("\n") == 1, done.stdout
    assert done.stdout.startswith(
        f"FAIL create: no answer from http://127.0.0.1:{port}/api/coupon/v1/create ("
    )


class NotTheApi(BaseHTTPRequestHandler):
    """API Gateway's own 404 for a stage or path that does not exist."""

    def do_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"message": "Not Found"}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_any

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def not_the_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotTheApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()
    server.server_close()


def test_a_server_that_is_not_the_api_fails_readably(not_the_api: str) -> None:
    done = run_smoke("--api", not_the_api, "--key", "k")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert first == (
        "FAIL create: POST /create answered HTTP 404 without the API's envelope "
        '(\'{"message": "Not Found"}\'); is --api the stack\'s ApiUrl?'
    )


# --- usage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--api", "http://127.0.0.1:3000"],
        ["--key", "k"],
        ["--api", "", "--key", "k"],
        ["--api", "http://127.0.0.1:3000", "--key", " "],
        ["--api", "127.0.0.1:3000", "--key", "k"],
        ["--api", "ftp://example.com", "--key", "k"],
        ["--api", "https://example.com/api/coupon/v1?x=1", "--key", "k"],
        ["--api", "https://example.com/api/coupon/v1/create", "--key", "k"],
        ["--api", "http://127.0.0.1:port", "--key", "k"],
        ["--api", "http://127.0.0.1:3000", "--key", "k", "--timeout", "0"],
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMOKE_KEY", raising=False)
    try:
        status = smoke.main(args)
    except SystemExit as exit_:  # argparse's own errors
        status = int(exit_.code or 0)
    assert status == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("smoke: "), err


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("https://abc123.execute-api.eu-west-1.amazonaws.com/api/coupon/v1",
         "https://abc123.execute-api.eu-west-1.amazonaws.com/api/coupon/v1"),
        ("https://abc123.execute-api.eu-west-1.amazonaws.com/api/coupon/v1/",
         "https://abc123.execute-api.eu-west-1.amazonaws.com/api/coupon/v1"),
        ("https://abc123.execute-api.eu-west-1.amazonaws.com",
         "https://abc123.execute-api.eu-west-1.amazonaws.com/api/coupon/v1"),
        ("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/",
         "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/api/coupon/v1"),
        ("  http://127.0.0.1:3000  ", "http://127.0.0.1:3000/api/coupon/v1"),
    ],
)  # fmt: skip
def test_api_url_is_normalised(given: str, base: str) -> None:
    assert smoke.normalise_api(given) == base


def test_the_api_prefix_is_the_stacks() -> None:
    """The ApiUrl output ends with the prefix smoke appends to a stage URL."""
    api_url = load_template()["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"]
    assert urlsplit(api_url).path == smoke.API_PREFIX == serve.API_PREFIX


@pytest.mark.parametrize("hour", range(0, 24, 3))
@pytest.mark.parametrize("day", ["2026-12-31", "2027-01-01", "2027-06-15", "2028-02-29"])
def test_coupon_dates_are_valid_in_every_time_zone(day: str, hour: int) -> None:
    """Create accepts them and the coupon is redeemable today, from UTC-12 to UTC+14."""
    now = datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)
    start, end = smoke.coupon_dates(now)
    for offset in range(-12, 15):
        today = now.astimezone(timezone(timedelta(hours=offset))).date()
        assert start <= today.isoformat() <= end, (offset, start, end)
        assert end <= latest_end_date(today).isoformat(), (offset, end)
