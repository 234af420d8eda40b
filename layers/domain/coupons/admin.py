"""coupon-admin: create accounts and API keys, list and revoke keys.

Works against the table named by TABLE_NAME (with AWS_ENDPOINT_URL_DYNAMODB, as the functions
read them). Without TABLE_NAME it uses the local dev store that `make dev` runs (on
DYNAMODB_PORT, default 8000).
"""

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from coupons import auth, store

# The local dev store that `make dev` runs (devstack/serve.py uses these too).
DEV_TABLE = "coupons-dev"
DEV_DYNAMODB_PORT = 8000


def _use_dev_store_by_default() -> None:
    if os.environ.get("TABLE_NAME"):
        return
    os.environ["TABLE_NAME"] = DEV_TABLE
    port = os.environ.get("DYNAMODB_PORT") or DEV_DYNAMODB_PORT
    os.environ.setdefault("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{port}")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _new_account(name: str) -> str:
    account = "acct_" + secrets.token_hex(8)
    store.put_account(account, name, _now(), cursor_key=secrets.token_hex(32))
    return account


def _store_key(account: str, api_key: str) -> None:
    hashed = auth.key_hash(api_key)
    store.put_api_key(hashed, account, auth.key_id(hashed), _now())


def create_account(name: str) -> tuple[str, str]:
    """A new account and its first API key: (account id, key)."""
    account = _new_account(name)
    api_key = auth.new_api_key()
    _store_key(account, api_key)
    return account, api_key


def create_key(account: str) -> str:
    if store.get_account(account) is None:
        raise SystemExit(f"no such account: {account}")
    api_key = auth.new_api_key()
    _store_key(account, api_key)
    return api_key


def ensure_account_with_key(name: str, api_key: str) -> str:
    """The account owning `api_key`, creating account `name` with that key if needed
    (the dev stack's known key)."""
    record = store.get_api_key(auth.key_hash(api_key))
    if record is not None:  # dev data from before cursors gets its account's cursor key
        store.add_cursor_key(str(record["account"]), secrets.token_hex(32))
        return str(record["account"])
    account = _new_account(name)
    _store_key(account, api_key)
    return account


def revoke_key(key_id: str) -> int:
    """Revoke every key whose id (hash prefix) is `key_id`; how many were revoked."""
    matches = [item for item in store.list_api_keys() if item["keyId"] == key_id]
    return sum(store.revoke_api_key(str(item["PK"]).removeprefix("KEY#")) for item in matches)


def main(argv: Sequence[str] | None = None) -> int:
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
    args = parser.parse_args(argv)
    _use_dev_store_by_default()

    if args.command == "create-account":
        account, api_key = create_account(args.name)
        print(f"account: {account}")
        print("API key (shown once, store it now):")
        print(api_key)
    elif args.command == "create-key":
        print(create_key(args.account))
    elif args.command == "revoke-key":
        revoked = revoke_key(args.key_id)
        if not revoked:
            print(f"no key with id {args.key_id}", file=sys.stderr)
            return 1
        print(f"revoked {args.key_id}")
    else:
        for item in sorted(store.list_api_keys(args.account), key=lambda i: str(i["created"])):
            state = "revoked" if item.get("revoked") else "active"
            print(f"{item['keyId']}  {item['account']}  {item['created']}  {state}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
