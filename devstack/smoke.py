"""``make smoke API=<base url> KEY=<api key>``: a short black-box check of a deployed stack.

Run from the repository root: ``python -m devstack.smoke --api URL --key KEY``.

It talks HTTP(S) to the API like any client (standard library only) and touches nothing of the
merchant's: it creates one coupon of its own, ``SMOKE`` + random hex, runs the main flows on it
(create and its replay, validate, redeem and its replay, a refused second redeem, cancel, the
history, list, update, a request without a key, an unknown route, delete) and deletes it again,
also when a check fails or the run is interrupted. It prints one line per check and a summary.

``--api`` is the stack's ``ApiUrl`` output (which ends in ``/api/coupon/v1``) or the bare
stage URL; ``make dev``'s ``http://127.0.0.1:3000/api/coupon/v1`` works too.

Exit status: 0 when every check passed, 1 when one failed (or the API could not be reached, or
the coupon could not be deleted), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Any, NoReturn, TextIO
from urllib.parse import urlencode, urlsplit, urlunsplit

from devstack.http_client import Answer, Unreachable, request

# Where the template mounts the routes; its ApiUrl output already ends with it.
API_PREFIX = "/api/coupon/v1"
DEFAULT_TIMEOUT_S = 30.0
LIST_WAIT_S = 10.0  # the listing reads an index, which DynamoDB updates a moment after a write
USAGE = 2
UNAUTHORIZED, NOT_FOUND = 4010, 4040  # the API's codes for a bad key, an unknown coupon


class UsageError(Exception):
    pass


class CheckFailed(Exception):
    pass


def normalise_api(raw: str) -> str:
    """The API's base URL (``…/api/coupon/v1``) from the ``ApiUrl`` output or the stage URL."""
    raw = raw.strip()
    if not raw:
        raise UsageError("--api is empty: give the stack's ApiUrl output")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--api must be an http(s) URL (the stack's ApiUrl), not {raw!r}")
    if parts.query or parts.fragment:
        raise UsageError(f"--api must be a base URL without a query or a fragment, not {raw!r}")
    try:
        parts.port  # noqa: B018  raises on a port that is not a number
    except ValueError:
        raise UsageError(f"--api has a bad port: {raw!r}") from None
    path = parts.path.rstrip("/")
    if not path.endswith(API_PREFIX):
        if API_PREFIX + "/" in path + "/":
            raise UsageError(
                f"--api must be the base URL ending in {API_PREFIX} (not a route's URL): {raw!r}"
            )
        path += API_PREFIX
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def coupon_dates(now: datetime | None = None) -> tuple[str, str]:
    """``(strtYmd, endYmd)`` valid whatever the stack's ``TimeZone`` (UTC-12 to UTC+14).

    The stack's today is between the UTC date 12 hours ago and 14 hours ahead, so it starts
    yesterday (UTC), and ends on December 31 of the year after the earliest possible today
    (create refuses an end later than December 31 of next year)."""
    now = now or datetime.now(UTC)
    start = now.date() - timedelta(days=1)
    end = date((now - timedelta(hours=12)).year + 1, 12, 31)
    return start.isoformat(), end.isoformat()


@dataclass
class Reply:
    answer: Answer
    envelope: dict[str, Any]
    ms: float

    @property
    def code(self) -> Any:
        return self.envelope.get("code")

    @property
    def result(self) -> Any:
        return self.envelope.get("result")

    def describe(self) -> str:
        message = str(self.envelope.get("message") or "").strip()
        text = f"HTTP {self.answer.status} code {self.code}"
        return f"{text}: {message}" if message else text


@dataclass
class Check:
    name: str
    run: Callable[[], str | None]  # raises CheckFailed; may return a detail for its ok line
    on_coupon: bool = True  # skipped once an earlier check failed (they build on each other)


@dataclass
class Smoke:
    base: str
    key: str
    out: TextIO = field(default_factory=lambda: sys.stdout)
    timeout: float = DEFAULT_TIMEOUT_S
    run_id: str = field(default_factory=lambda: secrets.token_hex(5).upper())
    to_delete: list[str] = field(default_factory=list)  # created (or maybe) and not deleted
    elapsed_ms: float = 0.0
    unreachable: bool = False
    rdm_id: str = ""
    first: dict[str, Reply] = field(default_factory=dict)  # a first answer, by its replay

    @property
    def code(self) -> str:
        return f"SMOKE{self.run_id}"

    @property
    def user(self) -> str:
        return f"smoke-{self.run_id.lower()}"

    def idempotency_key(self, route: str) -> str:
        return f"smoke-{self.run_id.lower()}-{route}"

    # -- HTTP --------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        route: str,
        *,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        authenticated: bool = True,
    ) -> Reply:
        """One request; raises CheckFailed if the answer is not the API's envelope."""
        url = self.base + route + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept-Language": "en", "User-Agent": "coupon-api-smoke"}
        if authenticated:
            headers["Authorization"] = f"APIKey {self.key}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        raw = b""
        if body is not None:
            headers["Content-Type"] = "application/json"
            raw = json.dumps(body).encode()
        started = time.monotonic()
        try:
            answer = request(url, method=method, headers=headers, body=raw, timeout=self.timeout)
        finally:
            ms = (time.monotonic() - started) * 1000
            self.elapsed_ms += ms
        try:
            envelope = answer.json()
        except ValueError:
            envelope = None
        if not (isinstance(envelope, dict) and isinstance(envelope.get("code"), int)):
            snippet = answer.body[:100].decode("utf-8", "replace").replace("\n", " ")
            raise CheckFailed(
                f"{method} {route} answered HTTP {answer.status} without the API's envelope "
                f"({snippet!r}); is --api the stack's ApiUrl?"
            )
        return Reply(answer, envelope, ms)

    @staticmethod
    def expect(reply: Reply, status: int, code: int) -> None:
        if (reply.answer.status, reply.code) == (status, code):
            return
        hint = ""
        if reply.code == UNAUTHORIZED:
            hint = " (is --key an API key of this stack?)"
        raise CheckFailed(f"expected HTTP {status} code {code}, got {reply.describe()}{hint}")

    @staticmethod
    def expect_equal(what: str, got: Any, expected: Any) -> None:
        if got != expected:
            raise CheckFailed(f"expected {what} {expected!r}, got {got!r}")

    def expect_replay(self, name: str, reply: Reply) -> None:
        self.expect(reply, 200, 0)
        first = self.first[name]
        if reply.result != first.result:
            raise CheckFailed(f"the replay answered {reply.result!r}, the first {first.result!r}")
        replayed = reply.answer.header("Idempotent-Replayed")
        if replayed != "true":
            raise CheckFailed(f"expected header Idempotent-Replayed: true, got {replayed!r}")

    # -- the checks, in order ----------------------------------------------------------------

    def _create(self) -> Reply:
        start, end = coupon_dates()
        body = {
            "cpnNo": self.code,
            "nm": "make smoke (deleted after)",
            "discTypeIdx": 458,
            "disc": 1,
            "discCurrency": "USD",
            "strtYmd": start,
            "endYmd": end,
            "useLimit": 1,
            "userId": self.user,
            "memo": "created and deleted by make smoke (devstack/smoke.py)",
        }
        return self.send(
            "POST", "/create", body=body, idempotency_key=self.idempotency_key("create")
        )

    def create(self) -> str:
        try:
            reply = self._create()
        except Unreachable as error:
            if error.sent:  # it may have been created before the answer was lost
                self.to_delete.append(self.code)
            raise
        # Created, or perhaps created (5xx); never a 409: that code is somebody else's.
        if (
            reply.answer.status == HTTPStatus.OK
            or reply.answer.status >= HTTPStatus.INTERNAL_SERVER_ERROR
        ):
            self.to_delete.append(self.code)
        self.expect(reply, 200, 0)
        self.expect_equal("the code", reply.result, self.code)
        self.first["create"] = reply
        return self.code

    def create_replay(self) -> None:
        self.expect_replay("create", self._create())

    def validate(self) -> None:
        reply = self.send("GET", "/validate", query={"cpnNo": self.code})
        self.expect(reply, 200, 0)
        coupon = reply.result if isinstance(reply.result, dict) else {}
        self.expect_equal(
            "cpnNo, useCnt", (coupon.get("cpnNo"), coupon.get("useCnt")), (self.code, 0)
        )

    def _redeem(self, idempotency_key: str | None) -> Reply:
        body = {"cpnNo": self.code, "memo": "make smoke"}
        return self.send("POST", "/redeem", body=body, idempotency_key=idempotency_key)

    def redeem(self) -> str:
        reply = self._redeem(self.idempotency_key("redeem"))
        self.expect(reply, 200, 0)
        result = reply.result if isinstance(reply.result, dict) else {}
        self.expect_equal(
            "useCnt, remaining", (result.get("useCnt"), result.get("remaining")), (1, 0)
        )
        self.rdm_id = str(result.get("rdmId") or "")
        self.first["redeem"] = reply
        return f"rdmId {self.rdm_id}"

    def redeem_replay(self) -> None:
        self.expect_replay("redeem", self._redeem(self.idempotency_key("redeem")))

    def redeem_again(self) -> str:
        reply = self._redeem(None)
        self.expect(reply, 422, 4222)
        return f"refused: {reply.describe()}"

    def cancel(self) -> None:
        body = {"cpnNo": self.code, "rdmId": self.rdm_id, "memo": "make smoke"}
        key = self.idempotency_key("cancel")
        reply = self.send("POST", "/redeem/cancel", body=body, idempotency_key=key)
        self.expect(reply, 200, 0)
        result = reply.result if isinstance(reply.result, dict) else {}
        self.expect_equal(
            "useCnt, remaining", (result.get("useCnt"), result.get("remaining")), (0, 1)
        )

    def redemptions(self) -> None:
        reply = self.send("GET", "/redemptions", query={"cpnNo": self.code})
        self.expect(reply, 200, 0)
        history = [(i.get("rdmId"), i.get("status")) for i in _items(reply)]
        self.expect_equal("the history", history, [(self.rdm_id, "CANCELLED")])

    def listed(self) -> None:
        deadline = time.monotonic() + LIST_WAIT_S
        while True:
            reply = self.send("GET", "/list", query={"userId": self.user, "limit": "20"})
            self.expect(reply, 200, 0)
            codes = [item.get("cpnNo") for item in _items(reply)]
            if self.code in codes:
                return
            if time.monotonic() > deadline:
                raise CheckFailed(f"{self.code} not listed after {LIST_WAIT_S:g} s: {codes}")
            time.sleep(0.5)

    def update(self) -> None:
        memo = f"make smoke {self.run_id}: updated"
        self.expect(self.send("PUT", "/update", body={"cpnNo": self.code, "memo": memo}), 200, 0)
        reply = self.send("GET", "/validate", query={"cpnNo": self.code})
        self.expect(reply, 200, 0)
        coupon = reply.result if isinstance(reply.result, dict) else {}
        self.expect_equal("the memo", coupon.get("memo"), memo)

    def unauthenticated(self) -> None:
        reply = self.send("GET", "/validate", query={"cpnNo": self.code}, authenticated=False)
        self.expect(reply, 401, 4010)

    def unknown_route(self) -> None:
        self.expect(self.send("GET", f"/smoke-no-such-route-{self.run_id.lower()}"), 404, 4041)

    def delete(self) -> None:
        self.expect(self.send("DELETE", "/delete", query={"cpnNo": self.code}), 200, 0)
        self.to_delete.remove(self.code)

    def deleted(self) -> None:
        self.expect(self.send("GET", "/validate", query={"cpnNo": self.code}), 404, 4040)

    def checks(self) -> list[Check]:
        return [
            Check("create", self.create),
            Check("create replay", self.create_replay),
            Check("validate", self.validate),
            Check("redeem", self.redeem),
            Check("redeem replay", self.redeem_replay),
            Check("redeem again", self.redeem_again),
            Check("cancel", self.cancel),
            Check("redemptions", self.redemptions),
            Check("list", self.listed),
            Check("update memo", self.update),
            Check("no api key", self.unauthenticated, on_coupon=False),
            Check("unknown route", self.unknown_route, on_coupon=False),
            Check("delete", self.delete),
            Check("validate deleted", self.deleted),
        ]

    # -- running -----------------------------------------------------------------------------

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def run(self) -> int:
        """Every check, then the clean-up (whatever happened); the exit status."""
        checks = self.checks()
        failed: list[str] = []
        skipped = 0
        interrupted = False
        try:
            failed, skipped = self._run_checks(checks)
        except KeyboardInterrupt:
            interrupted = True
            self.say("interrupted: cleaning up")
        finally:
            cleaned = self.clean_up()
        if interrupted:
            return 130
        if self.unreachable:  # its one line said it all
            return 1
        if failed or not cleaned:
            parts = [f"{len(failed)} of {len(checks)} checks failed"]
            parts += [f"{skipped} skipped"] if skipped else []
            parts += [] if cleaned else [f"{self.code} NOT deleted"]
            self.say(f"smoke: {', '.join(parts)} ({self.base})")
            return 1
        self.say(
            f"smoke: all {len(checks)} checks passed in {self.elapsed_ms:.0f} ms ({self.base}); "
            f"{self.code} created and deleted"
        )
        return 0

    def _run_checks(self, checks: Sequence[Check]) -> tuple[list[str], int]:
        failed: list[str] = []
        skipped: list[str] = []
        for check in checks:
            if check.on_coupon and failed:
                skipped.append(check.name)  # it would build on what failed
                continue
            before = self.elapsed_ms
            try:
                detail = check.run()
            except CheckFailed as error:
                failed.append(check.name)
                self.say(f"FAIL {check.name}: {error}")
                continue
            except Unreachable as error:
                self.unreachable = True
                self.say(f"FAIL {check.name}: no answer from {error.url} ({error.reason})")
                return [*failed, check.name], len(skipped)
            ms = self.elapsed_ms - before
            self.say(f"ok   {check.name:<17}{ms:6.0f} ms" + (f"  {detail}" if detail else ""))
        if skipped:
            self.say(f"skip {', '.join(skipped)} (after {failed[0]} failed)")
        return failed, len(skipped)

    def clean_up(self) -> bool:
        """Delete what this run created and did not delete yet; False if that failed."""
        ok = True
        for code in list(self.to_delete):
            try:
                reply = self.send("DELETE", "/delete", query={"cpnNo": code})
            except Unreachable as error:
                reason = f"no answer: {error.reason}"
            except CheckFailed as error:
                reason = str(error)
            else:
                if reply.code in (0, NOT_FOUND):  # deleted now, or never created after all
                    self.to_delete.remove(code)
                    self.say(f"ok   {'clean-up':<17}{reply.ms:6.0f} ms  {code} deleted")
                    continue
                reason = reply.describe()
            ok = False
            self.say(
                f"FAIL clean-up: could not delete {code} ({reason}); delete it with: curl -X "
                f"DELETE '{self.base}/delete?cpnNo={code}' -H \"Authorization: APIKey $KEY\""
            )
        return ok


def _items(reply: Reply) -> list[dict[str, Any]]:
    """A page's items (empty if the result is not a page)."""
    items = reply.result.get("items") if isinstance(reply.result, dict) else None
    return [item for item in items or [] if isinstance(item, dict)]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {message} (usage: {self.prog} --api URL --key KEY)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="smoke",
        description="Check a deployed coupon API with coupons of its own, deleted after.",
    )
    parser.add_argument("--api", required=True, help="the stack's ApiUrl (or its stage URL)")
    parser.add_argument(
        "--key",
        default=os.environ.get("SMOKE_KEY", ""),
        help="an API key of the stack (coupon-admin); default $SMOKE_KEY, which `make smoke` "
        "sets, so that the key is not in the process list",
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per request"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        base = normalise_api(args.api)
        if not args.key.strip():
            raise UsageError(
                "no API key: give --key (or SMOKE_KEY) an API key of the stack"
                " (coupon-admin create-key)"
            )
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
    except UsageError as error:
        print(f"smoke: {error}", file=sys.stderr)
        return USAGE
    return Smoke(base, args.key.strip(), timeout=args.timeout).run()


if __name__ == "__main__":
    sys.exit(main())
