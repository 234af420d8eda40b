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
from pathlib import Path
from typing import Any

import pytest

from coupons import accounts, auth
from devstack import dynamodb_local, http_client, serve
from devstack.dynamodb_local import free_port
from devstack.smoke import coupon_dates
from devstack.template import REPO_ROOT
from tests.integration.conftest import coupon_table  # noqa: F401
from tests.tooling import conftest as tooling_conftest
from tests.tooling.conftest import DevStack, processes_using, start_dev_stack, stop_dev_stack

pytestmark = pytest.mark.integration

REPLACED = "DEV_API_KEY replaced the dev account's key; the old one is revoked"


def call(stack: DevStack, key: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    answer = http_client.request(
        stack.base_url + path,
        method=method,
        headers={"Authorization": f"APIKey {key}", "Content-Type": "application/json"},
        body=b"" if body is None else json.dumps(body).encode(),
        timeout=10,
    )
    return answer.status, answer.json()


def coupon(code: str) -> dict[str, Any]:
    start, end = coupon_dates()  # valid in any TIME_ZONE, on any day
    return {
        "cpnNo": code,
        "nm": "$5 off",
        "discTypeIdx": 458,
        "disc": 5,
        "discCurrency": "USD",
        "strtYmd": start,
        "endYmd": end,
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
        # The sample coupon made by the first start is kept: the same page.
        assert page_address(second).partition("/c/")[2] == page_address(first).partition("/c/")[2]
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


def page_address(stack: DevStack) -> str:
    """The sample coupon's page the banner names (the line after its title)."""
    lines = stack.banner.splitlines()
    (title,) = [i for i, line in enumerate(lines) if line.startswith("# coupon page of ")]
    assert f"sample coupon {serve.SAMPLE_CODE} (on-site password 1234)" in lines[title]
    assert "its pageUrl is https://coupons.example.com/c/" in lines[title]
    return lines[title + 1]


def test_the_banner_shows_the_page_of_a_sample_coupon(dev_stack: DevStack) -> None:
    address = page_address(dev_stack)
    assert address.startswith(f"http://127.0.0.1:{dev_stack.port}/c/")
    assert dev_stack.banner.index(address) < dev_stack.banner.index("Ctrl-C to stop")
    page = http_client.request(address, timeout=10)
    assert page.status == 200
    assert serve.SAMPLE_CODE in page.body.decode()
    status, answer = call(dev_stack, dev_stack.key, "GET", f"/validate?cpnNo={serve.SAMPLE_CODE}")
    assert (status, answer["result"]["onsiteYn"], answer["result"]["useLimit"]) == (200, "Y", 0)
    assert answer["result"]["pageUrl"].endswith(
        address.removeprefix(f"http://127.0.0.1:{dev_stack.port}")
    )


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


def refuse(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """make dev that must refuse: what it printed (whether DynamoDB Local started is checked
    by what it left, not by how long it took: that varies on a loaded machine)."""
    environment = {
        **os.environ,
        "PORT": str(free_port()),
        "DYNAMODB_PORT": str(free_port()),
        "DEV_DATA_DIR": str(folder / ".devdata"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "devstack.serve"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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
    done = refuse(tmp_path, **{taken: str(port)})
    assert done.returncode == 1
    assert not (tmp_path / ".devdata").exists()  # no DynamoDB Local was started on it
    assert processes_using(tmp_path) == []
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("ERROR: " + expected.format(port=port)), line
    assert len(processes_using(dev_stack.folder)) == 1  # the running stack's, untouched


def test_a_second_make_dev_on_the_same_data_folder_is_refused(
    dev_stack: DevStack, tmp_path: Path
) -> None:
    done = refuse(tmp_path, DEV_DATA_DIR=str(dev_stack.folder / ".devdata"))
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("ERROR: another make dev already runs on ")
    assert f"(pid {dev_stack.process.pid}, port {dev_stack.port})" in line
    assert len(processes_using(dev_stack.folder)) == 1  # no second DynamoDB Local


def test_the_same_port_twice_is_refused(tmp_path: Path) -> None:
    port = str(free_port())
    done = refuse(tmp_path, PORT=port, DYNAMODB_PORT=port)
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


def test_start_dev_stack_gives_up_at_its_deadline_leaving_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixture's own deadline, with a stand-in java that never answers (make dev would wait
    much longer for it): the output so far, and neither make dev nor java left running."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    java = bin_dir / "java"
    java.write_text("#!/bin/sh\nsleep 120\n", encoding="utf-8")  # keeps its arguments
    java.chmod(0o755)
    monkeypatch.setattr(tooling_conftest, "STARTUP_S", 3)
    with pytest.raises(AssertionError, match="gave no banner within 3 s") as failed:
        start_dev_stack(
            tmp_path, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", DEV_DYNAMODB="local"
        )
    assert "starting DynamoDB Local (java)" in str(failed.value)
    assert processes_using(tmp_path) == []


# -- the dev account, in process (serve.dev_account) -------------------------------------------


def owner(key: str) -> tuple[str, bool] | None:
    record = accounts.find_key(key)
    return None if record is None else (record["account"], record["revoked"])


def new_key() -> str:
    return "wanted-" + secrets.token_hex(8)


def revoke(key: str) -> None:
    assert accounts.revoke_key(auth.key_id(auth.key_hash(key))) == 1


@pytest.mark.usefixtures("coupon_table")
def test_the_kept_key_is_kept_and_a_wanted_one_replaces_it() -> None:
    made = serve.dev_account(None, None)  # the first make dev
    assert owner(made.api_key) == (made.account, False)
    assert accounts.account_names([made.account]) == {made.account: "dev"}
    kept = serve.dev_account(made.api_key, None)
    assert kept == serve.DevAccount(made.account, made.api_key)
    assert serve.dev_account(made.api_key, made.api_key) == kept  # DEV_API_KEY, the same key

    replaced = serve.dev_account(made.api_key, new_key())
    assert (replaced.account, replaced.replaced, replaced.renewed) == (made.account, True, False)
    assert owner(made.api_key) == (made.account, True)  # revoked
    assert owner(replaced.api_key) == (made.account, False)
    again = serve.dev_account(replaced.api_key, None)  # no DEV_API_KEY any more
    assert again == serve.DevAccount(made.account, replaced.api_key)
    notes = " ".join(serve.account_notes(replaced))
    assert REPLACED in notes


@pytest.mark.usefixtures("coupon_table")
def test_a_kept_key_the_store_does_not_know_starts_a_new_dev_account() -> None:
    """moto's store forgets everything on exit; the kept key stays the dev key."""
    kept = new_key()
    fresh = serve.dev_account(kept, None)
    assert (fresh.api_key, fresh.replaced) == (kept, False)
    assert owner(kept) == (fresh.account, False)
    wanted = new_key()  # and with a DEV_API_KEY: nothing to replace, it is the key
    other = serve.dev_account(new_key(), wanted)
    assert (other.api_key, other.replaced) == (wanted, False)
    assert owner(wanted) == (other.account, False)


@pytest.mark.usefixtures("coupon_table")
def test_a_revoked_kept_key_gets_a_new_one_and_a_revoked_wanted_one_is_refused() -> None:
    made = serve.dev_account(None, None)
    revoke(made.api_key)
    renewed = serve.dev_account(made.api_key, None)
    assert (renewed.account, renewed.renewed) == (made.account, True)
    assert renewed.api_key != made.api_key and owner(renewed.api_key) == (made.account, False)
    assert "was revoked; the dev account got a new one" in " ".join(serve.account_notes(renewed))
    for kept in (renewed.api_key, made.api_key):  # DEV_API_KEY is the revoked key
        with pytest.raises(serve.Refused, match=r"^DEV_API_KEY is a revoked key; unset"):
            serve.dev_account(kept, made.api_key)
    assert owner(made.api_key) == (made.account, True)  # still revoked
    assert owner(renewed.api_key) == (made.account, False)  # nothing changed


@pytest.mark.usefixtures("coupon_table")
def test_a_revoked_kept_key_is_replaced_by_a_wanted_one() -> None:
    made = serve.dev_account(None, None)
    revoke(made.api_key)
    replaced = serve.dev_account(made.api_key, new_key())
    assert (replaced.account, replaced.replaced) == (made.account, True)
    assert owner(replaced.api_key) == (made.account, False)


@pytest.mark.usefixtures("coupon_table")
def test_another_key_of_the_dev_account_replaces_the_kept_one() -> None:
    made = serve.dev_account(None, None)
    second = accounts.create_key(made.account)  # coupon-admin create-key <the dev account>
    chosen = serve.dev_account(made.api_key, second)
    assert (chosen.account, chosen.api_key, chosen.replaced) == (made.account, second, True)
    assert owner(made.api_key) == (made.account, True)


@pytest.mark.usefixtures("coupon_table")
def test_a_key_of_another_account_is_refused_in_one_line() -> None:
    name = "shop " + secrets.token_hex(4)
    shop, shop_key = accounts.create_account(name)
    made = serve.dev_account(None, None)
    for kept in (made.api_key, None):  # with a dev account, or none yet
        with pytest.raises(serve.Refused) as refused:
            serve.dev_account(kept, shop_key)
        assert str(refused.value) == (
            f"DEV_API_KEY is a key of account {shop} ({name!r}), not of the dev account; "
            "unset DEV_API_KEY or choose another key"
        )
    assert owner(made.api_key) == (made.account, False)  # nothing changed
    assert owner(shop_key) == (shop, False)


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
    with pytest.raises(RuntimeError, match="did not answer ListTables") as refused:
        db.start()
    assert str(refused.value).endswith(f"; see {tmp_path / 'dynamodb-local.log'}")
    assert len(said) >= 2
    assert said[0].startswith("still starting DynamoDB Local (")
    assert f"its log: {tmp_path / 'dynamodb-local.log'}" in said[0]
    assert db.pid is None and processes_using(tmp_path) == []
