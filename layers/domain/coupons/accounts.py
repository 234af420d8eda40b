"""Accounts and their API keys: what `coupon-admin` (devstack/admin.py) and the dev stack do.
A key is shown once and stored only as its SHA-256 hash; its id is a prefix of that hash."""

import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from coupons import auth, clock
from coupons.records import ApiKeyRecord
from coupons.store import accounts as store


def _now() -> str:
    return datetime.fromtimestamp(clock.now_ms() / 1000, UTC).isoformat(timespec="seconds")


def _new_account(name: str) -> str:
    account = "acct_" + secrets.token_hex(8)
    store.put_account(account, name, _now(), cursor_key=secrets.token_hex(32))
    return account


def _store_key(account: str, api_key: str) -> None:
    hashed = auth.key_hash(api_key)
    store.put_api_key(hashed, account, auth.key_id(hashed), _now())


class NoSuchAccount(LookupError):
    pass


@dataclass(frozen=True)
class AccountSummary:
    account: str
    name: str
    created: str
    active_keys: int


def create_account(name: str) -> tuple[str, str]:
    """A new account and its first API key: (account id, key)."""
    account = _new_account(name)
    api_key = auth.new_api_key()
    _store_key(account, api_key)
    return account, api_key


def create_key(account: str, api_key: str | None = None) -> str:
    """A new API key (or `api_key`, which must not be a key yet) for an existing account
    (NoSuchAccount otherwise)."""
    if store.get_account(account) is None:
        raise NoSuchAccount(account)
    api_key = api_key or auth.new_api_key()
    _store_key(account, api_key)
    return api_key


def find_key(api_key: str) -> ApiKeyRecord | None:
    """The record of `api_key` (its account, whether it is revoked), if it is a key."""
    return store.get_api_key(auth.key_hash(api_key))


def ensure_account_with_key(name: str, api_key: str) -> str:
    """The account owning `api_key`, creating account `name` with that key if needed
    (the dev stack's known key)."""
    record = store.get_api_key(auth.key_hash(api_key))
    if record is not None:  # dev data from before cursors or the key list gets what it lacks
        store.add_cursor_key(record["account"], secrets.token_hex(32))
        store.add_to_key_list(record)
        return record["account"]
    account = _new_account(name)
    _store_key(account, api_key)
    return account


def list_keys(account: str | None = None) -> list[ApiKeyRecord]:
    """Every key record (optionally of one account), oldest first (a Query of the key list)."""
    return sorted(store.list_api_keys(account), key=lambda record: record["created"])


def revoke_key(key_id: str) -> int:
    """Revoke every key whose id (hash prefix) is `key_id`; how many were revoked."""
    matches = [r for r in store.list_api_keys(key_id=key_id) if r["keyId"] == key_id]
    return sum(store.revoke_api_key(record["keyHash"], key_id) for record in matches)


def list_unlisted_keys() -> int:
    """Add keys created before the key list existed to it (one scan); how many."""
    return store.list_unlisted_keys()


def list_accounts() -> list[AccountSummary]:
    """Every account, oldest first, with how many active keys it has: one Query of the key list
    and a BatchGetItem of the accounts it names, never a scan. Every account is made with a key
    (create_account, ensure_account_with_key) and a revoked key stays listed, so the key list
    names them all; an account whose keys predate the key list shows once `list_unlisted_keys`
    (coupon-admin list-old-keys) has listed them. An account item that is missing (a key
    pointing nowhere) shows with name and date "?"."""
    keys = store.list_api_keys()
    active = Counter(record["account"] for record in keys if not record["revoked"])
    found = {
        record["account"]: record for record in store.get_accounts([r["account"] for r in keys])
    }
    summaries = [
        AccountSummary(
            account,
            str(found[account]["name"]) if account in found else "?",
            str(found[account]["created"]) if account in found else "?",
            active[account],
        )
        for account in {record["account"] for record in keys}
    ]
    return sorted(summaries, key=lambda summary: (summary.created, summary.account))


def account_names(accounts: Iterable[str]) -> dict[str, str]:
    """The name of each of these accounts that exists (one BatchGetItem per 100)."""
    return {record["account"]: record["name"] for record in store.get_accounts(list(accounts))}
