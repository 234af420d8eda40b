"""`make dev` as a user meets it: one dev account whatever DEV_API_KEY says, refusals in one
line before anything starts, what it prints while DynamoDB Local starts, and a clean stop on
SIGTERM and Ctrl-C with either store."""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from coupons import accounts, auth, clock
from coupons.store import accounts as stored_accounts
from devstack import dynamodb_local, serve
from devstack.dynamodb_local import free_port
from devstack.template import REPO_ROOT
from tests.integration.conftest import coupon_table  # noqa: F401
from tests.tooling.conftest import DevStack, processes_using, start_dev_stack, stop_dev_stack

pytestmark = pytest.mark.integration

REPLACED = "DEV_API_KEY replaced the dev account's key; the old one is revoked"
# Python's start and the template's reading: a refusal is one line after about this long
# (it took 7 s, the time of a second DynamoDB Local, before).
REFUSAL_S = 3.0


def call(stack: DevStack, key: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        stack.base_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"APIKey {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def coupon(code: str) -> dict[str, Any]:
    year = date.today().year
    return {
        "cpnNo": code,
        "nm": "$5 off",
        "discTypeIdx": 458,
        "disc": 5,
        "discCurrency": "USD",
        "strtYmd": f"{year}-01-01",
        "endYmd": f"{year + 1}-12-31",
        "useLimit": 1,
    }


def admin(stack: DevStack, *args: str) -> str:
    env = {k: v for k, v in stack.environment().items() if k != "AWS_ENDPOINT_URL_DYNAMODB"}
    env.pop("TABLE_NAME", None)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("coupon-admin")), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def stop_impatiently(stack: DevStack, signum: int) -> str:
    """`signum`, then Ctrl-C again while it stops (moto's server takes ~0.5 s to stop, DynamoDB
    Local longer): a second signal used to interrupt the stopping with a traceback."""
    stack.process.send_signal(signum)
    time.sleep(0.1)
    return stop_dev_stack(stack, signal.SIGINT)


def assert_stopped_cleanly(stack: DevStack, rest: str) -> None:
    assert stack.process.returncode == 0, rest
    assert "Traceback" not in rest, rest
    assert "stopping..." in rest
    assert processes_using(stack.folder) == [], "DynamoDB Local outlived make dev"


# -- DEV_API_KEY: one dev account, whose key it replaces ---------------------------------------


def test_dev_api_key_replaces_the_key_of_the_one_dev_account(tmp_path: Path) -> None:
    first = start_dev_stack(tmp_path)
    try:
        old_key = first.key
        assert f"API key of account 'dev': {old_key}" in first.banner
        assert REPLACED not in first.banner
        assert call(first, old_key, "POST", "/create", coupon("KEEPME2026"))[1]["code"] == 0
        (java,) = processes_using(tmp_path)  # this stack's DynamoDB Local
    finally:
        rest = stop_dev_stack(first, signal.SIGINT)  # Ctrl-C
    assert_stopped_cleanly(first, rest)
    assert java not in processes_using(tmp_path)

    new_key = "dev-key-set-by-hand-" + secrets.token_hex(8)
    second = start_dev_stack(tmp_path, DEV_API_KEY=new_key)
    try:
        assert f"API key of account 'dev': {new_key}" in second.banner
        assert REPLACED in second.banner
        assert second.key == new_key  # .devdata/dev-api-key follows the key in use
        status, answer = call(second, new_key, "GET", "/validate?cpnNo=KEEPME2026")
        assert (status, answer["code"]) == (200, 0)  # the same account: its coupon is there
        assert call(second, old_key, "GET", "/validate?cpnNo=KEEPME2026")[0] == 401
        listed = admin(second, "list-accounts").splitlines()
        assert [line.split()[1:2] for line in listed[1:]] == [["dev"]]  # still one dev account
        assert listed[1].split()[-1] == "1"  # with one active key
    finally:
        rest = stop_impatiently(second, signal.SIGTERM)
    assert_stopped_cleanly(second, rest)


def test_progress_is_printed_before_the_banner(dev_stack: DevStack) -> None:
    before_banner = dev_stack.banner.partition("Coupon API (dev) on")[0]
    assert (
        f"starting DynamoDB Local (java) on port {dev_stack.dynamodb_port}, data in "
        in before_banner
    )
    assert f"it takes ~{serve.DYNAMODB_LOCAL_START_S} s..." in before_banner
    assert "DynamoDB Local ready in " in before_banner
    assert "creating table coupons-dev" in before_banner  # a fresh folder: the first start


def test_progress_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    serve.progress("starting something...")
    assert capsys.readouterr() == ("", "starting something...\n")


# -- refusals: one line, before anything starts -------------------------------------------------


def refuse(folder: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    environment = {
        **os.environ,
        "PORT": str(free_port()),
        "DYNAMODB_PORT": str(free_port()),
        "DEV_DATA_DIR": str(folder / ".devdata"),
        **env,
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "devstack.serve"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, time.monotonic() - started


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        ("PORT", "port {port} is in use (another make dev?); stop it or set PORT="),
        (
            "DYNAMODB_PORT",
            "port {port} is in use (another make dev, or a DynamoDB Local left running?); "
            "stop it or set DYNAMODB_PORT=",
        ),
    ],
)
def test_a_port_in_use_is_refused_in_one_line_before_dynamodb_local_starts(
    dev_stack: DevStack, tmp_path: Path, taken: str, expected: str
) -> None:
    port = dev_stack.port if taken == "PORT" else dev_stack.dynamodb_port
    done, took = refuse(tmp_path, **{taken: str(port)})
    assert done.returncode == 1
    assert took < REFUSAL_S, done.stderr
    assert not (tmp_path / ".devdata").exists()  # no DynamoDB Local was started on it
    assert processes_using(tmp_path) == []
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("ERROR: " + expected.format(port=port)), line
    assert len(processes_using(dev_stack.folder)) == 1  # the running stack's, untouched


def test_a_second_make_dev_on_the_same_data_folder_is_refused(
    dev_stack: DevStack, tmp_path: Path
) -> None:
    done, took = refuse(tmp_path, DEV_DATA_DIR=str(dev_stack.folder / ".devdata"))
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("ERROR: another make dev already runs on ")
    assert f"(pid {dev_stack.process.pid}, port {dev_stack.port})" in line
    assert took < REFUSAL_S
    assert len(processes_using(dev_stack.folder)) == 1


def test_the_same_port_twice_is_refused(tmp_path: Path) -> None:
    port = str(free_port())
    done, _ = refuse(tmp_path, PORT=port, DYNAMODB_PORT=port)
    assert done.returncode == 1
    assert (
        done.stderr == f"ERROR: PORT and DYNAMODB_PORT are both {port}; set one to another port\n"
    )


# -- stopping: SIGTERM and Ctrl-C, with moto's server too ---------------------------------------


@pytest.mark.parametrize(
    ("signum", "env"),
    [
        (signal.SIGTERM, {"PATH": str(Path(sys.executable).parent)}),  # no java: the fallback
        (signal.SIGINT, {"DEV_DYNAMODB": "moto"}),  # asked for
    ],
    ids=["SIGTERM-no-java", "SIGINT-DEV_DYNAMODB=moto"],
)
def test_the_moto_fallback_stops_cleanly(tmp_path: Path, signum: int, env: dict[str, str]) -> None:
    stack = start_dev_stack(tmp_path, **env)
    try:
        assert "DynamoDB: moto server (in memory)" in stack.banner
        assert ("WARNING: DynamoDB Local needs `java`" in stack.banner) == ("PATH" in env)
        assert call(stack, stack.key, "POST", "/create", coupon("MOTO2026"))[1]["code"] == 0
    finally:
        rest = stop_impatiently(stack, signum)
    assert_stopped_cleanly(stack, rest)


# -- the dev account, in process (coupons.accounts.keep_account_key) ----------------------------


def new_name() -> str:
    return "dev-" + secrets.token_hex(4)


@pytest.fixture
def days_apart(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each account is made a day after the one before (created is to the second)."""
    day = iter(range(1, 1000))
    monkeypatch.setattr(clock, "now_ms", lambda: 1_600_000_000_000 + next(day) * 86_400_000)
    yield


def owner(key: str) -> tuple[str, bool] | None:
    record = stored_accounts.get_api_key(auth.key_hash(key))
    return None if record is None else (record["account"], record["revoked"])


@pytest.mark.usefixtures("coupon_table")
def test_the_kept_key_is_kept_and_a_wanted_one_replaces_it() -> None:
    name = new_name()
    made = accounts.keep_account_key(name, None)
    assert (made.chosen_by, made.replaced, made.namesakes) == ("new", False, ())
    kept = accounts.keep_account_key(name, made.api_key)
    assert (kept.account, kept.api_key, kept.chosen_by) == (
        made.account,
        made.api_key,
        "current key",
    )
    assert not (kept.replaced or kept.renewed or kept.taken_from)

    replaced = accounts.keep_account_key(name, made.api_key, "wanted-" + secrets.token_hex(8))
    assert (replaced.account, replaced.replaced) == (made.account, True)
    assert owner(made.api_key) == (made.account, True)  # revoked
    assert owner(replaced.api_key) == (made.account, False)
    again = accounts.keep_account_key(name, replaced.api_key)  # no DEV_API_KEY any more
    assert (again.api_key, again.replaced) == (replaced.api_key, False)


@pytest.mark.usefixtures("coupon_table")
def test_a_revoked_kept_key_gets_a_new_one_and_a_wanted_one_comes_back() -> None:
    name = new_name()
    made = accounts.keep_account_key(name, None)
    assert accounts.revoke_key(auth.key_id(auth.key_hash(made.api_key))) == 1
    renewed = accounts.keep_account_key(name, made.api_key)
    assert (renewed.account, renewed.renewed) == (made.account, True)
    assert renewed.api_key != made.api_key and owner(renewed.api_key) == (made.account, False)
    back = accounts.keep_account_key(name, renewed.api_key, made.api_key)  # the revoked one
    assert (back.account, back.replaced) == (made.account, True)
    assert owner(made.api_key) == (made.account, False)


@pytest.mark.usefixtures("coupon_table", "days_apart")
def test_several_accounts_of_the_dev_name_start_on_the_kept_keys_account() -> None:
    """Data of the version that made an account per DEV_API_KEY: A (the kept key) and B."""
    name = new_name()
    account_a, key_a = accounts.create_account(name)
    account_b, key_b = accounts.create_account(name)
    chosen = accounts.keep_account_key(name, key_a, key_b)
    assert (chosen.account, chosen.chosen_by) == (account_a, "current key")
    assert chosen.namesakes == (account_a, account_b)
    assert (chosen.taken_from, chosen.replaced) == (account_b, True)
    assert owner(key_b) == (account_a, False) and owner(key_a) == (account_a, True)
    notes = " ".join(serve.account_notes(chosen))
    assert "2 accounts are named" in notes and "the one owning the key in" in notes
    assert account_a in notes and account_b in notes


@pytest.mark.usefixtures("coupon_table", "days_apart")
def test_without_the_kept_key_the_wanted_keys_account_or_the_oldest_is_the_dev_account() -> None:
    name = new_name()
    account_a, _ = accounts.create_account(name)
    account_b, key_b = accounts.create_account(name)
    assert accounts.keep_account_key(name, None, key_b).account == account_b  # its own key
    oldest = accounts.keep_account_key(name, None)
    assert (oldest.account, oldest.chosen_by) == (account_a, "oldest of the name")
    assert owner(oldest.api_key) == (account_a, False)


@pytest.mark.usefixtures("coupon_table")
def test_a_key_of_another_accounts_name_is_not_taken() -> None:
    _, shop_key = accounts.create_account("shop " + secrets.token_hex(4))
    name = new_name()
    made = accounts.keep_account_key(name, None)
    with pytest.raises(accounts.KeyOfAnotherAccount):
        accounts.keep_account_key(name, made.api_key, shop_key)
    assert owner(made.api_key) == (made.account, False)  # nothing changed


def test_a_slow_start_says_it_is_still_going(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in for java that never answers: progress every PROGRESS_EVERY_S, then a refusal
    naming the log, and the stand-in stopped."""
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\nsleep 60\n", encoding="utf-8")  # keeps its arguments
    java.chmod(0o755)
    monkeypatch.setattr(dynamodb_local, "PROGRESS_EVERY_S", 0.4)
    said: list[str] = []
    db = dynamodb_local.DynamoDBLocal(
        port=free_port(),
        db_path=tmp_path / "dynamodb",
        log_path=tmp_path / "dynamodb-local.log",
        startup_timeout=1.5,
        java=str(java),
        progress=said.append,
    )
    with pytest.raises(RuntimeError, match="did not answer ListTables"):
        db.start()
    assert len(said) >= 2
    assert said[0].startswith("still starting DynamoDB Local (")
    assert f"its log: {tmp_path / 'dynamodb-local.log'}" in said[0]
    assert db.pid is None and processes_using(tmp_path) == []
