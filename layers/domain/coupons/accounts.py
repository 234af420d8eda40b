"""Accounts and their API keys: what `coupon-admin` (devstack/admin.py) and the dev stack do.
A key is shown once and stored only as its SHA-256 hash; its id is a prefix of that hash."""

import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

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


class KeyOfAnotherAccount(ValueError):
    """The key asked for already belongs to an account of another name: it is not taken."""

    def __init__(self, account: str, name: str) -> None:
        super().__init__(f"the key belongs to account {account} ({name!r})")
        self.account = account
        self.name = name


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


type ChosenBy = Literal["current key", "wanted key", "oldest of the name", "new"]


@dataclass(frozen=True)
class KeptKey:
    """What `keep_account_key` settled on, and what it changed to get there."""

    account: str
    api_key: str
    chosen_by: ChosenBy  # how the account was found
    replaced: bool = False  # the wanted key replaced the current one, which is now revoked
    renewed: bool = False  # the current key was revoked already: a new key was made
    taken_from: str | None = None  # the wanted key was another account's of the same name
    namesakes: tuple[str, ...] = ()  # every account with the name, oldest first


def keep_account_key(name: str, current_key: str | None, wanted_key: str | None = None) -> KeptKey:
    """The one account called `name` that holds `current_key` (the dev stack's kept key), and
    the key to use with it (`make dev`'s dev account).

    The account is the one `current_key` belongs to; else the one `wanted_key` belongs to, if it
    is called `name`; else the oldest account called `name` (there may be several: an older dev
    stack made one per DEV_API_KEY); else a new account called `name`.
    Its key is `wanted_key` if given: added to the account (or taken from another account
    called `name`, or made active again), and the `current_key` it replaces is revoked, so the
    account and its coupons stay and only the key changes. Without `wanted_key`, `current_key`
    stays, unless it was revoked: then a new key is made. Raises KeyOfAnotherAccount if
    `wanted_key` belongs to an account of another name."""
    current = store.get_api_key(auth.key_hash(current_key)) if current_key else None
    wanted = store.get_api_key(auth.key_hash(wanted_key)) if wanted_key else None
    namesakes = tuple(summary.account for summary in list_accounts() if summary.name == name)
    chosen_by: ChosenBy
    if current is not None:
        account, chosen_by = current["account"], "current key"
    elif wanted is not None and wanted["account"] in namesakes:
        account, chosen_by = wanted["account"], "wanted key"
    elif namesakes:
        account, chosen_by = namesakes[0], "oldest of the name"
    else:
        account, chosen_by = "", "new"
    renewed = not wanted_key and current is not None and current["revoked"]
    api_key = wanted_key or (None if renewed else current_key) or auth.new_api_key()
    record = wanted if wanted_key else current if api_key == current_key else None
    if record is not None and record["account"] not in (account, *namesakes):
        owner = store.get_account(record["account"])
        raise KeyOfAnotherAccount(record["account"], owner["name"] if owner else "?")
    if account:
        store.add_cursor_key(account, secrets.token_hex(32))  # dev data from before cursors
    else:
        account = _new_account(name)
    taken_from = None
    if record is None:
        _store_key(account, api_key)
    else:
        store.add_to_key_list(record)  # dev data from before the key list
        if record["account"] != account or record["revoked"]:
            if not store.assign_api_key(record["keyHash"], record["keyId"], account):
                raise LookupError(f"key {record['keyId']} vanished while being assigned")
            taken_from = record["account"] if record["account"] != account else None
    replaced = bool(
        wanted_key
        and current is not None
        and current_key != wanted_key
        and current["account"] == account
        and not current["revoked"]
        and store.revoke_api_key(current["keyHash"], current["keyId"])
    )
    return KeptKey(account, api_key, chosen_by, replaced, renewed, taken_from, namesakes)
