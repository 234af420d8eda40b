"""`make invoke`: devstack/invoke.py runs every file of events/ through its function, on the store
of a running `make dev`, as `sam local invoke` would without Docker."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack import http_client, invoke, serve
from devstack.dynamodb_local import free_port
from devstack.smoke import coupon_dates
from devstack.template import REPO_ROOT, routes
from tests.tooling.conftest import DevStack

EVENTS = REPO_ROOT / "events"
CODE = "WELCOME2026"  # the coupon the events are about


@dataclass
class Invoked:
    returncode: int
    response: dict[str, Any]
    stderr: str

    @property
    def status(self) -> int:
        return int(self.response["statusCode"])

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.response["body"])
        return body

    @property
    def answer(self) -> tuple[int, int]:
        return self.status, int(self.body["code"])


def environment(stack: DevStack, **extra: str) -> dict[str, str]:
    env = stack.environment()
    for name in ("KEY", "DEV_API_KEY"):
        env.pop(name, None)
    return {**env, **extra}


def run_invoke(
    env: dict[str, str], *args: str | Path, cwd: Path = REPO_ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack.invoke", *map(str, args)],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def invoke_event(stack: DevStack, function: str, event: str | Path, *args: str) -> Invoked:
    """One invocation that must succeed: stdout is exactly the response, one line of JSON."""
    done = run_invoke(environment(stack), function, event, *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1, done.stdout
    response = json.loads(done.stdout)
    assert set(response) >= {"statusCode", "headers", "body"}
    assert "START RequestId: " in done.stderr and "REPORT RequestId: " in done.stderr
    return Invoked(done.returncode, response, done.stderr)


def with_body(name: str, folder: Path, **changes: Any) -> Path:
    """A copy of events/`name` in `folder` whose body has `changes`."""
    event = json.loads((EVENTS / name).read_text())
    body = {**json.loads(event["body"]), **changes}
    path = folder / name
    path.write_text(json.dumps({**event, "body": json.dumps(body)}))
    return path


@pytest.mark.integration
def test_every_event_runs_through_its_function_on_the_dev_store(
    dev_stack: DevStack, tmp_path: Path
) -> None:
    # Whatever an earlier run left: after this delete the coupon does not exist.
    first = invoke_event(dev_stack, "DeleteFunction", "events/delete.json")
    assert first.answer in ((200, 0), (404, 4040))
    assert "instead of the event's placeholder" in first.stderr

    # The events' coupon runs on fixed dates: created from a copy dated for today (whatever
    # the year), it can be redeemed, its redeem replayed and cancelled on any day.
    start, end = coupon_dates()
    dated = with_body("create.json", tmp_path, strtYmd=start, endYmd=end)
    created = invoke_event(dev_stack, "CreateFunction", dated)
    assert (*created.answer, created.body["result"]) == (200, 0, CODE)
    assert invoke_event(dev_stack, "create", "events/create.json").answer == (409, 4090)

    validated = invoke_event(dev_stack, "ValidateFunction", "events/validate.json")
    assert validated.answer == (200, 0)
    assert invoke_event(dev_stack, "update", "events/update.json").answer == (200, 0)

    redeemed = invoke_event(dev_stack, "RedeemFunction", "events/redeem.json")
    assert redeemed.answer == (200, 0)
    history = invoke_event(dev_stack, "redemptions", "events/redemptions.json")
    assert history.answer == (200, 0)
    assert [item["status"] for item in history.body["result"]["items"]] == ["REDEEMED"]
    listed = invoke_event(dev_stack, "ListFunction", "events/list.json")
    assert CODE in [item["cpnNo"] for item in listed.body["result"]["items"]]
    # Its rdmId is an example: no such redemption.
    example = invoke_event(dev_stack, "RedeemCancelFunction", "events/redeem_cancel.json")
    assert example.answer == (422, 4227)
    replayed = invoke_event(dev_stack, "redeem", "events/redeem.json")
    assert replayed.body == redeemed.body
    assert replayed.response["headers"]["Idempotent-Replayed"] == "true"
    # The cancel event with the rdmId the redeem event got.
    rdm_id = redeemed.body["result"]["rdmId"]
    cancel = with_body("redeem_cancel.json", tmp_path, rdmId=rdm_id)
    cancelled = invoke_event(dev_stack, "redeem_cancel", cancel)
    assert (*cancelled.answer, cancelled.body["result"]["useCnt"]) == (200, 0, 0)

    bulk = invoke_event(dev_stack, "CreateBulkFunction", "events/create_bulk.json")
    assert bulk.answer == (200, 0) and len(bulk.body["result"]) == 3
    again = invoke_event(dev_stack, "create_bulk", "events/create_bulk.json")
    assert again.body == bulk.body and again.response["headers"]["Idempotent-Replayed"] == "true"

    assert invoke_event(dev_stack, "NotFoundFunction", "events/not_found.json").answer == (
        404,
        4041,
    )
    assert invoke_event(dev_stack, "functions/delete", "events/delete.json").answer == (200, 0)
    gone = invoke_event(dev_stack, "validate", "events/validate.json")
    assert gone.answer == (404, 4040)
    # The invocations wrote to the store that make dev serves.
    for code in [CODE, *bulk.body["result"]]:
        answer = http_client.request(
            f"{dev_stack.base_url}/delete?cpnNo={code}",
            method="DELETE",
            headers={"Authorization": f"APIKey {dev_stack.key}"},
        )
        assert answer.json()["code"] == (4040 if code == CODE else 0)


@pytest.mark.integration
def test_key_given_with_option_or_environment(dev_stack: DevStack) -> None:
    wrong = invoke_event(dev_stack, "validate", "events/validate.json", "--key", "wrong")
    assert wrong.answer == (401, 4010)
    assert "invoke: Authorization: the key given by --key or KEY\n" in wrong.stderr
    done = run_invoke(environment(dev_stack, KEY=dev_stack.key), "list", "events/list.json")
    assert json.loads(json.loads(done.stdout)["body"])["code"] == 0


@pytest.mark.integration
def test_a_failing_cold_start_is_lambdas_error_object_and_exit_1(dev_stack: DevStack) -> None:
    done = run_invoke(
        environment(dev_stack, TIME_ZONE="Nowhere/Atlantis"), "list", EVENTS / "list.json"
    )
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert (error["errorType"], error["errorMessage"]) == (
        "SettingsError",
        "TIME_ZONE 'Nowhere/Atlantis' is not an IANA time zone name",
    )
    assert "Traceback" in done.stderr


# --- errors before the handler runs: one line, exit 1 ---------------------------------------


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    return done.stderr.rstrip("\n")


def no_store_environment() -> dict[str, str]:
    """This process's environment, with a DYNAMODB_PORT nothing listens on."""
    env = {name: value for name, value in os.environ.items() if name not in ("KEY", "DEV_API_KEY")}
    return {**env, "DYNAMODB_PORT": str(free_port())}


def test_unknown_function_lists_the_valid_names() -> None:
    env = no_store_environment()
    line = one_line_error(run_invoke(env, "NoSuchFunction", "events/create.json"))
    assert line.startswith(
        "invoke: unknown function 'NoSuchFunction'; one of: CreateFunction (create), "
    )
    for route in routes():
        assert f"{route.function_logical_id} ({route.code_dir.name})" in line


def test_dev_store_not_running() -> None:
    env = no_store_environment()
    line = one_line_error(run_invoke(env, "CreateFunction", "events/create.json"))
    port = env["DYNAMODB_PORT"]
    assert line == (
        f"invoke: no dev store on 127.0.0.1:{port}: start `make dev` first (or set DYNAMODB_PORT)"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "invoke: event file {path} not found (see events/)"),
        (
            "not json",
            "invoke: event file {path} is not JSON: Expecting value: line 1 column 1 (char 0)",
        ),
        ("[1, 2]", "invoke: event file {path} is not a JSON object"),
    ],
)
def test_event_file_missing_or_not_json(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    env = no_store_environment()
    line = one_line_error(run_invoke(env, "create", path))
    assert line == message.format(path=path)


# --- in-process pieces -----------------------------------------------------------------------


# The public coupon page's events (DESIGN 2.8) carry no API key: the page takes none.
PUBLIC_EVENTS = {"page.json", "page_use.json"}


def test_every_event_carries_the_placeholder_key_invoke_replaces() -> None:
    for path in sorted(EVENTS.glob("*.json")):
        if path.name == "env.json":
            continue
        headers = json.loads(path.read_text())["headers"]
        if path.name in PUBLIC_EVENTS:
            assert "authorization" not in headers, path
            continue
        assert headers["authorization"] == f"APIKey {invoke.PLACEHOLDER_KEY}", path


def test_key_replacement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A DEV_API_KEY in this shell is not the dev key: the running make dev may never have used
    # it (it writes the one it uses to the key file).
    monkeypatch.setenv("DEV_API_KEY", "not-this-one")
    placeholder = {"headers": {"authorization": f"APIKey {invoke.PLACEHOLDER_KEY}"}}
    own = {"headers": {"Authorization": "APIKey mine"}}
    key_file = tmp_path / serve.KEY_FILE

    event = json.loads(json.dumps(placeholder))
    assert invoke.set_key(event, None, tmp_path) == (  # no make dev yet: kept
        f"Authorization: kept the event's placeholder key (no {key_file}: run `make dev` once, "
        "or pass --key)"
    )
    assert event == placeholder
    serve.keep_api_key("devkey", tmp_path)
    assert invoke.set_key(event, None, tmp_path) == (
        f"Authorization: the dev account's key from {key_file} instead of the event's placeholder"
    )
    assert event["headers"] == {"authorization": "APIKey devkey"}

    event = json.loads(json.dumps(own))  # a key of the event's own is kept
    assert invoke.set_key(event, None, tmp_path) is None
    assert event == own
    assert invoke.set_key(event, "given", tmp_path)  # unless one is given
    assert event["headers"] == {"Authorization": "APIKey given"}
    event = {}
    invoke.set_key(event, "given", tmp_path)
    assert event["headers"] == {"authorization": "APIKey given"}


def test_functions_by_logical_id_or_folder() -> None:
    for route in routes():
        for name in (
            route.function_logical_id,
            route.function_logical_id.lower(),
            route.code_dir.name,
            f"functions/{route.code_dir.name}/",
        ):
            assert invoke.find_function(name).function_logical_id == route.function_logical_id
    with pytest.raises(invoke.InvokeError):
        invoke.find_function("")


def test_an_event_for_another_route_is_noted() -> None:
    create = invoke.find_function("create")
    assert invoke.route_mismatch(create, {"routeKey": "POST /api/coupon/v1/create"}) is None
    note = invoke.route_mismatch(create, {"routeKey": "GET /api/coupon/v1/validate"})
    assert note and "ValidateFunction's, not CreateFunction's" in note
