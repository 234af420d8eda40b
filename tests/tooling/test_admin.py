"""coupon-admin as a merchant runs it (the console script): a failure is one line saying what is
wrong and what to do; list-accounts and list-keys print a header and the accounts' names."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coupons import accounts
from coupons.store.client import every_client
from devstack.admin import table
from devstack.dynamodb_local import free_port
from tests.integration.conftest import coupon_table  # noqa: F401
from tests.tooling.conftest import DevStack

pytestmark = pytest.mark.integration

ADMIN = str(Path(sys.executable).with_name("coupon-admin"))
# What a shell may carry that would point coupon-admin somewhere else.
AWS_SETTINGS = (
    "TABLE_NAME",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "DYNAMODB_PORT",
)


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in AWS_SETTINGS}
    environment.update(env)
    return subprocess.run(
        [ADMIN, *args], env=environment, capture_output=True, text=True, timeout=60, check=False
    )


def on(stack: DevStack, *args: str) -> str:
    """coupon-admin against the dev stack's store, as in a shell where `make dev` runs."""
    done = run(*args, DYNAMODB_PORT=str(stack.dynamodb_port))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout


def one_line_failure(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("coupon-admin: ")
    return lines[0]


# -- failures: one line, exit 1 -----------------------------------------------------------------


def test_the_dev_store_not_running_is_one_line() -> None:
    port = free_port()
    line = one_line_failure(run("list-keys", DYNAMODB_PORT=str(port)))
    assert line == (
        f"coupon-admin: cannot reach the dev store at http://127.0.0.1:{port}: start it with "
        "`make dev` (or set DYNAMODB_PORT to the port it runs on)"
    )


def test_a_deployed_table_without_a_region_is_one_line() -> None:
    line = one_line_failure(
        run("list-accounts", TABLE_NAME="coupon-api-CouponTable-X", AWS_CONFIG_FILE="/dev/null")
    )
    assert line == (
        "coupon-admin: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) to the stack's region"
    )


def test_a_deployed_table_without_credentials_is_one_line() -> None:
    line = one_line_failure(
        run(
            "create-account",
            "Cafe Brown",
            TABLE_NAME="coupon-api-CouponTable-X",
            AWS_REGION="eu-west-1",  # honoured as the AWS CLI does (botocore reads only the other)
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            AWS_EC2_METADATA_DISABLED="true",
        )
    )
    assert line.startswith("coupon-admin: no AWS credentials: set AWS_PROFILE")


def test_a_table_that_is_not_there_is_one_line(dev_stack: DevStack) -> None:
    line = one_line_failure(
        run(
            "list-keys",
            TABLE_NAME="no-such-table",
            AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{dev_stack.dynamodb_port}",
            AWS_REGION="eu-west-1",
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
        )
    )
    assert line == (
        "coupon-admin: table no-such-table not found in region eu-west-1: set TABLE_NAME to the "
        "stack's TableName output and AWS_REGION to its region"
    )


def test_a_port_that_is_not_dynamodb_is_one_line(dev_stack: DevStack) -> None:
    line = one_line_failure(run("list-accounts", DYNAMODB_PORT=str(dev_stack.port)))  # the API's
    assert line == (
        f"coupon-admin: http://127.0.0.1:{dev_stack.port} does not answer as DynamoDB (HTTP 404): "
        "set DYNAMODB_PORT to make dev's DynamoDB port (not its PORT)"
    )


def test_an_unknown_account_is_one_line(dev_stack: DevStack) -> None:
    done = run("create-key", "acct_nosuch", DYNAMODB_PORT=str(dev_stack.dynamodb_port))
    assert one_line_failure(done) == "coupon-admin: no such account: acct_nosuch"


# -- list-accounts and list-keys ----------------------------------------------------------------


def rows(listing: str) -> list[list[str]]:
    """The cells of a listing (two spaces or more between columns; a name may hold one)."""
    return [
        [cell.strip() for cell in line.split("  ") if cell.strip()] for line in listing.splitlines()
    ]


def test_list_accounts_names_each_account_with_its_active_keys(dev_stack: DevStack) -> None:
    created = on(dev_stack, "create-account", "Cafe Brown").splitlines()
    account = created[0].removeprefix("account: ")
    on(dev_stack, "create-key", account)
    listed = rows(on(dev_stack, "list-accounts"))
    assert listed[0] == ["ACCOUNT", "NAME", "CREATED", "ACTIVE KEYS"]
    by_id = {row[0]: row for row in listed[1:]}
    assert by_id[account][1:2] == ["Cafe Brown"] and by_id[account][3] == "2"
    (dev,) = [row for row in listed[1:] if row[1] == "dev"]  # make dev's one dev account
    assert dev[3] == "1"
    assert [row[2] for row in listed[1:]] == sorted(row[2] for row in listed[1:])  # oldest first

    key_id = rows(on(dev_stack, "list-keys", account))[1][0]
    on(dev_stack, "revoke-key", key_id)
    assert {row[0]: row for row in rows(on(dev_stack, "list-accounts"))}[account][3] == "1"
    assert rows(on(dev_stack, "list-accounts", "--no-header"))[0][0] != "ACCOUNT"


def test_list_keys_has_a_header_and_the_accounts_names(dev_stack: DevStack) -> None:
    account = on(dev_stack, "create-account", "Tea & Cake").splitlines()[0].split()[-1]
    listed = rows(on(dev_stack, "list-keys"))
    assert listed[0] == ["KEY ID", "ACCOUNT", "NAME", "CREATED", "STATE"]
    assert [row[1:3] for row in listed[1:] if row[1] == account] == [[account, "Tea & Cake"]]
    assert ["dev", "active"] in [[row[2], row[4]] for row in listed[1:]]
    (only,) = rows(on(dev_stack, "list-keys", account, "--no-header"))
    assert only[1:3] == [account, "Tea & Cake"] and only[4] == "active"


def test_a_listing_lines_up_its_columns() -> None:
    assert table(
        ("A", "NAME", "N"), [("acct_1", "Cafe Brown", 2), ("acct_22", "x", 10)], with_header=True
    ) == ("A        NAME        N\nacct_1   Cafe Brown  2\nacct_22  x           10")


@pytest.mark.usefixtures("coupon_table")
def test_list_accounts_reads_the_key_list_and_never_scans() -> None:
    account, _ = accounts.create_account("no scan")
    sent: list[str] = []

    def record(model: Any, **_: Any) -> None:
        sent.append(model.name)

    for client in every_client():
        client.meta.events.register("before-call.dynamodb", record)
    try:
        summaries = {summary.account: summary for summary in accounts.list_accounts()}
        assert accounts.account_names([account]) == {account: "no scan"}
    finally:
        for client in every_client():
            client.meta.events.unregister("before-call.dynamodb", record)
    assert (summaries[account].name, summaries[account].active_keys) == ("no scan", 1)
    assert "Scan" not in sent
    assert set(sent) == {"Query", "BatchGetItem"}
