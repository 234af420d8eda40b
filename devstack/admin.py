"""coupon-admin: create accounts and API keys, list accounts and keys, revoke keys
(coupons.accounts does the work; this is its command line).

Works against the table named by TABLE_NAME (with AWS_ENDPOINT_URL_DYNAMODB, as the functions
read them). Without TABLE_NAME it uses the local dev store that `make dev` runs (on
DYNAMODB_PORT, default 8000).
"""

import argparse
import os
import sys
from collections.abc import Sequence

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable

# The local dev store that `make dev` runs (devstack/serve.py uses these too).
DEV_TABLE = "coupons-dev"
DEV_DYNAMODB_PORT = 8000
# DynamoDB's error codes for credentials it does not accept.
REFUSED_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
    }
)


def use_dev_store_by_default() -> bool:
    """Point at make dev's store unless TABLE_NAME names a table; True if it did."""
    if os.environ.get("TABLE_NAME"):
        # botocore reads AWS_DEFAULT_REGION only; the AWS CLI and Lambda honour AWS_REGION too.
        if os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
            os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"]
        return False
    os.environ["TABLE_NAME"] = DEV_TABLE
    port = os.environ.get("DYNAMODB_PORT") or DEV_DYNAMODB_PORT
    os.environ.setdefault("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{port}")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coupon-admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-account", help="create an account; prints its API key last")
    commands.choices["create-account"].add_argument("name")
    commands.add_parser("create-key", help="add an API key to an account; prints it")
    commands.choices["create-key"].add_argument("account")
    commands.add_parser("revoke-key", help="revoke a key by its id (see list-keys)")
    commands.choices["revoke-key"].add_argument("key_id")
    commands.add_parser(
        "list-accounts", help="list accounts: id, name, created, active keys (reads the key list)"
    )
    commands.add_parser("list-keys", help="list key ids (never the keys) with their account")
    commands.choices["list-keys"].add_argument("account", nargs="?")
    for listing in ("list-accounts", "list-keys"):
        commands.choices[listing].add_argument(
            "--no-header", action="store_true", help="no header line (for scripts)"
        )
    commands.add_parser(
        "list-old-keys",
        help="once, after upgrading: add keys created before the key list to it (scans once)",
    )
    return parser


def table(header: Sequence[str], rows: Sequence[Sequence[object]], *, with_header: bool) -> str:
    """Columns two spaces apart, each as wide as its widest cell (the last one unpadded)."""
    cells = [[str(cell) for cell in row] for row in ([header] if with_header else []) + [*rows]]
    widths = [max((len(row[i]) for row in cells), default=0) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def accounts_table(*, with_header: bool) -> str:
    from coupons import accounts

    rows = [(s.account, s.name, s.created, s.active_keys) for s in accounts.list_accounts()]
    return table(("ACCOUNT", "NAME", "CREATED", "ACTIVE KEYS"), rows, with_header=with_header)


def keys_table(account: str | None, *, with_header: bool) -> str:
    from coupons import accounts

    keys = accounts.list_keys(account)
    names = accounts.account_names(record["account"] for record in keys)
    rows = [
        (
            record["keyId"],
            record["account"],
            names.get(record["account"], "?"),
            record["created"],
            "revoked" if record["revoked"] else "active",
        )
        for record in keys
    ]
    return table(("KEY ID", "ACCOUNT", "NAME", "CREATED", "STATE"), rows, with_header=with_header)


def _run(args: argparse.Namespace) -> int:
    from coupons import accounts  # after the environment is set

    if args.command == "create-account":
        account, api_key = accounts.create_account(args.name)
        print(f"account: {account}")
        print("API key (shown once, store it now):")
        print(api_key)
    elif args.command == "create-key":
        try:
            print(accounts.create_key(args.account))
        except accounts.NoSuchAccount:
            print(f"coupon-admin: no such account: {args.account}", file=sys.stderr)
            return 1
    elif args.command == "revoke-key":
        revoked = accounts.revoke_key(args.key_id)
        if not revoked:
            print(f"coupon-admin: no key with id {args.key_id}", file=sys.stderr)
            return 1
        print(f"revoked {args.key_id}")
    elif args.command == "list-old-keys":
        print(f"listed {accounts.list_unlisted_keys()} key(s) created before the key list")
    elif args.command == "list-accounts":
        print(accounts_table(with_header=not args.no_header))
    else:
        print(keys_table(args.account, with_header=not args.no_header))
    return 0


def _botocore_cause(error: BaseException) -> BaseException | None:
    """The botocore exception `error` is, or was raised from (the store turns a connection
    failure into a 503 raised from it), if any."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, BotoCoreError | ClientError):
            return seen
        seen = seen.__cause__
    return None


def explain(error: BaseException, *, dev_store: bool) -> str | None:
    """What went wrong and what to do, in one line; None if `error` is not a storage failure
    (a bug: its traceback is worth seeing)."""
    from coupons.errors import CouponError, ErrorCode
    from coupons.settings import SettingsError

    cause = _botocore_cause(error)
    if isinstance(cause, ClientError):
        return _explain_refusal(cause, dev_store=dev_store)
    if cause is not None:
        return _explain_failure(cause, dev_store=dev_store)
    if isinstance(error, CouponError) and error.code == ErrorCode.THROTTLED:
        return "DynamoDB is busy (throttled); try again in a few seconds"
    if isinstance(error, SettingsError):
        return str(error)
    return None


def _explain_failure(error: BaseException, *, dev_store: bool) -> str:
    """A request that was not sent, or not answered."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or "DynamoDB"
    unreachable = (
        f"cannot reach the dev store at {endpoint}: start it with `make dev` (or set "
        "DYNAMODB_PORT to the port it runs on)"
        if dev_store
        else f"cannot reach {endpoint}: check the network, AWS_REGION and AWS_ENDPOINT_URL_DYNAMODB"
    )
    hints: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
        ((EndpointUnreachable, HTTPClientError), unreachable),
        (
            NoRegionError,
            "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) to the stack's region",
        ),
        (
            (NoCredentialsError, PartialCredentialsError),
            "no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or log in (`aws sso login`)",
        ),
        (
            ProfileNotFound,
            f"AWS profile {os.environ.get('AWS_PROFILE', '')!r} not found: check AWS_PROFILE",
        ),
    ]
    for kinds, hint in hints:
        if isinstance(error, kinds):
            return hint
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def _explain_refusal(error: ClientError, *, dev_store: bool) -> str:
    """A request DynamoDB answered with a refusal (named by its error code)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or "DynamoDB"
    table_name = os.environ.get("TABLE_NAME", "")
    details = error.response.get("Error", {})
    code = str(details.get("Code", "?"))
    message = " ".join(str(details.get("Message", "")).split())
    if code == "ResourceNotFoundException":
        if dev_store:
            return (
                f"no table {table_name} at {endpoint}: that is not make dev's store (is "
                "DYNAMODB_PORT make dev's?); `make dev` creates it"
            )
        from coupons.store.client import client  # made already: it sent the request

        return (
            f"table {table_name} not found in region {client().meta.region_name}: set "
            "TABLE_NAME to the stack's TableName output and AWS_REGION to its region"
        )
    if code == "AccessDeniedException":
        return (
            f"access denied to table {table_name}: use credentials allowed to read and write "
            f"it (AWS_PROFILE) ({message})"
        )
    if code in REFUSED_CREDENTIALS:
        return f"AWS refused the credentials ({code}): refresh them or set AWS_PROFILE"
    if code.isdigit():  # botocore names an answer with no DynamoDB error in it by its status
        fix = (
            "set DYNAMODB_PORT to make dev's DynamoDB port (not its PORT)"
            if dev_store
            else "check AWS_ENDPOINT_URL_DYNAMODB"
        )
        return f"{endpoint} does not answer as DynamoDB (HTTP {code}): {fix}"
    return f"DynamoDB refused the request: {code}: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    dev_store = use_dev_store_by_default()
    try:
        return _run(args)
    except Exception as error:
        reason = explain(error, dev_store=dev_store)
        if reason is None:
            raise
        print(f"coupon-admin: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
