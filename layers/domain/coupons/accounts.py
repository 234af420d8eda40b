"""Accounts and their API keys: what `coupon-admin` (devstack/admin.py) and the dev stack do.
A key is shown once and stored only as its SHA-256 hash; its id is a prefix of that hash."""

import secrets
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


def create_account(name: str) -> tuple[str, str]:
    """A new account and its first API key: (account id, key)."""
    account = _new_account(name)
    api_key = auth.new_api_key()
    _store_key(account, api_key)
    return account, api_key


def create_key(account: str) -> str:
    """A new API key for an existing account (NoSuchAccount otherwise)."""
    if store.get_account(account) is None:
        raise NoSuchAccount(account)
    api_key = auth.new_api_key()
    _store_key(account, api_key)
    return api_key


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
