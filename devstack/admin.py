"""coupon-admin: create accounts and API keys, list and revoke keys (coupons.accounts does the
work; this is its command line).

Works against the table named by TABLE_NAME (with AWS_ENDPOINT_URL_DYNAMODB, as the functions
read them). Without TABLE_NAME it uses the local dev store that `make dev` runs (on
DYNAMODB_PORT, default 8000).
"""

import argparse
import os
import sys
from collections.abc import Sequence

# The local dev store that `make dev` runs (devstack/serve.py uses these too).
DEV_TABLE = "coupons-dev"
DEV_DYNAMODB_PORT = 8000


def use_dev_store_by_default() -> None:
    if os.environ.get("TABLE_NAME"):
        return
    os.environ["TABLE_NAME"] = DEV_TABLE
    port = os.environ.get("DYNAMODB_PORT") or DEV_DYNAMODB_PORT
    os.environ.setdefault("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{port}")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coupon-admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-account", help="create an account; prints its API key last")
    commands.choices["create-account"].add_argument("name")
    commands.add_parser("create-key", help="add an API key to an account; prints it")
    commands.choices["create-key"].add_argument("account")
    commands.add_parser("revoke-key", help="revoke a key by its id (see list-keys)")
    commands.choices["revoke-key"].add_argument("key_id")
    commands.add_parser("list-keys", help="list key ids (never the keys)")
    commands.choices["list-keys"].add_argument("account", nargs="?")
    commands.add_parser(
        "list-old-keys",
        help="once, after upgrading: add keys created before the key list to it (scans once)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    use_dev_store_by_default()
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
            raise SystemExit(f"no such account: {args.account}") from None
    elif args.command == "revoke-key":
        revoked = accounts.revoke_key(args.key_id)
        if not revoked:
            print(f"no key with id {args.key_id}", file=sys.stderr)
            return 1
        print(f"revoked {args.key_id}")
    elif args.command == "list-old-keys":
        print(f"listed {accounts.list_unlisted_keys()} key(s) created before the key list")
    else:
        for record in accounts.list_keys(args.account):
            state = "revoked" if record["revoked"] else "active"
            print(f"{record['keyId']}  {record['account']}  {record['created']}  {state}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
