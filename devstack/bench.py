"""`make bench`: what a cold start, a request and a redemption cost, measured on this machine.

1. Cold import, per function, of what ships: `sam build` for this machine's architecture into a
   temp folder, then the median wall time of a fresh interpreter that cannot write bytecode
   (`-I -B`, as on Lambda's read-only /opt and /var/task) importing the built function with its
   built layer (the template's environment), as a ratio to a fresh interpreter running
   `import boto3; boto3.client("dynamodb")` from the venv's compiled install. The source tree
   (with __pycache__ compiled first) is a second column, for comparison only. Runs interleave.
2. Per operation, on DynamoDB Local through the real handlers with real events: DynamoDB
   requests, capacity units as DynamoDB Local reports them (ReturnConsumedCapacity=TOTAL), the
   write units DynamoDB bills (a transactional write is 2 units per item of up to 1 KB), the
   median warm handler time and the part of it spent outside the SDK's calls.
3. The redeem path's cost per million redemptions, from those figures and the list prices.
4. Redeem and cancel per case a checkout meets (bench_cases.py): DynamoDB requests, refused ones
   included, and billed write units.

It reports; it never fails a test. Counts are fixed and every operation is warmed up first.
"""

from __future__ import annotations

import compileall
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.bench_cases import CaseRow, measure_cases, print_cases
from devstack.dynamodb_local import DynamoDBLocal, ensure_table
from devstack.gateway import Gateway, LambdaContext, build_event
from devstack.sam_build import LAYER as LAYER_ID
from devstack.sam_build import machine_architecture, sam_build
from devstack.samples import coupon_fields
from devstack.template import REPO_ROOT, Route, function_environment, routes

TABLE = "coupons-bench"
COLD_RUNS = 21
WARM_UP = 5
WARM_RUNS = 40
LAYER = REPO_ROOT / "layers" / "domain"
API = "/api/coupon/v1"

# List prices (us-east-1, on-demand, 2026): per unit.
WRITE_UNIT = 0.625 / 1e6
READ_UNIT = 0.125 / 1e6
LAMBDA_ARM_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
HTTP_API_REQUEST = 1.00 / 1e6

_BASELINE = "import boto3; boto3.client('dynamodb')"
# Cold import as a ratio to the baseline (DESIGN section 6), on the built artifact.
COLD_BUDGET, COLD_AIM = 1.25, 1.10
# The variants measured: what ships, the same files without their .pyc (what a layer of bare
# .py files costs on Lambda, optional), and the source tree with warm __pycache__.
ARTIFACT, NO_BYTECODE, SOURCE_TREE = "artifact", "artifact, no .pyc", "source tree"


def _timed_import(code: str) -> str:
    return f"import time; _t = time.perf_counter()\n{code}\nprint(time.perf_counter() - _t)"


def _environment() -> dict[str, str]:
    env = {**os.environ, **function_environment(TABLE)}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.setdefault("AWS_ACCESS_KEY_ID", "bench")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    env.pop("PYTHONPATH", None)
    return env


def _run(code: str, env: dict[str, str]) -> float:
    # -I: no PYTHONPATH, user site or current folder on sys.path; -B: no bytecode written.
    out = subprocess.run(
        [sys.executable, "-I", "-B", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _import_app(path: list[Path]) -> str:
    return _timed_import(f"import sys; sys.path[:0] = {[str(p) for p in path]!r}\nimport app")


@dataclass
class ColdImports:
    """Median cold-import seconds: the baseline, and per variant, per function folder."""

    architecture: str
    baseline: float
    seconds: dict[str, dict[str, float]]

    def ratio(self, variant: str, function: str) -> float:
        return self.seconds[variant][function] / self.baseline


def cold_imports(
    functions: list[Route], runs: int = COLD_RUNS, *, without_bytecode: bool = False
) -> ColdImports:
    """`sam build` for this machine into a temp folder, then `runs` interleaved rounds of fresh
    interpreters: the baseline, each built function with its built layer (ARTIFACT), the same
    without .pyc files if asked (NO_BYTECODE), and each function from the source tree."""
    env = {**_environment(), "PYTHONDONTWRITEBYTECODE": "1"}  # -I ignores it; -B says it
    architecture = machine_architecture()
    with tempfile.TemporaryDirectory(prefix="coupon-bench-") as tmp:
        built = {ARTIFACT: sam_build(Path(tmp) / "build", architecture)}
        if without_bytecode:
            bare = Path(tmp) / "bare"
            shutil.copytree(built[ARTIFACT], bare, ignore=shutil.ignore_patterns("__pycache__"))
            built[NO_BYTECODE] = bare
        # The source tree is measured from bytecode, written once here.
        for folder in (LAYER / "coupons", *(route.code_dir for route in functions)):
            compileall.compile_dir(folder, quiet=1)
        programs = {("baseline", "boto3"): _timed_import(_BASELINE)}
        for route in functions:
            name = route.code_dir.name
            for variant, build in built.items():
                layer = build / LAYER_ID / "python"
                programs[(variant, name)] = _import_app([layer, build / route.function_logical_id])
            programs[(SOURCE_TREE, name)] = _import_app([LAYER, route.code_dir])
        samples: dict[tuple[str, str], list[float]] = {key: [] for key in programs}
        for _ in range(runs):  # interleaved, so drift on the machine hits every program alike
            for key, code in programs.items():
                samples[key].append(_run(code, env))
    medians = {key: statistics.median(values) for key, values in samples.items()}
    seconds: dict[str, dict[str, float]] = {}
    for (variant, name), median in medians.items():
        if variant != "baseline":
            seconds.setdefault(variant, {})[name] = median
    return ColdImports(architecture, medians[("baseline", "boto3")], seconds)


def print_cold_imports(cold: ColdImports) -> None:
    variants = [v for v in (ARTIFACT, NO_BYTECODE, SOURCE_TREE) if v in cold.seconds]
    print(f"  baseline `{_BASELINE}` (the venv's compiled boto3): {cold.baseline * 1000:.0f} ms")
    print(
        f"  {ARTIFACT}: `sam build` for {cold.architecture} (this machine), each function with its"
        " built layer, `python -I -B` (no bytecode written, as on Lambda)"
    )
    if NO_BYTECODE in cold.seconds:
        print(f"  {NO_BYTECODE}: the same build with every __pycache__ removed (bare .py files)")
    print(f"  {SOURCE_TREE}: layers/domain, functions/ with __pycache__ compiled (not what ships)")
    print(f"  budget: {ARTIFACT} ratio <= {COLD_BUDGET:.2f}, aim <= {COLD_AIM:.2f}")
    header = "".join(f" {v + ' ms':>20} {'ratio':>6}" for v in variants)
    print(f"  {'function':<16}{header}")
    for name in cold.seconds[ARTIFACT]:
        cells = "".join(
            f" {cold.seconds[v][name] * 1000:>20.0f} {cold.ratio(v, name):>6.2f}" for v in variants
        )
        ratio = cold.ratio(ARTIFACT, name)
        note = "over budget" if ratio > COLD_BUDGET else "above aim" if ratio > COLD_AIM else ""
        print(f"  {name:<16}{cells}  {note}".rstrip())


# --- warm requests on DynamoDB Local ----------------------------------------------------------


@dataclass
class Calls:
    """What the SDK did during one invocation."""

    names: list[str] = field(default_factory=list)
    reported: float = 0.0  # capacity units, as DynamoDB Local reports them
    billed_writes: float = 0.0  # write units by DynamoDB's billing rules (items <= 1 KB)
    read_units: float = 0.0
    sdk_seconds: float = 0.0
    _started: float = 0.0


class Recorder:
    """botocore event hooks on the functions' clients: count calls, ask for capacity, time them."""

    WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
    READS = frozenset({"GetItem", "Query", "BatchGetItem"})

    def __init__(self, *clients: Any) -> None:
        self.calls = Calls()
        for client in clients:
            client.meta.events.register("provide-client-params.dynamodb.*", self._before)
            client.meta.events.register("after-call.dynamodb.*", self._after)

    def reset(self) -> Calls:
        calls, self.calls = self.calls, Calls()
        return calls

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls._started = time.perf_counter()
        self.calls.names.append(model.name)
        if model.name != "DescribeTable":
            params["ReturnConsumedCapacity"] = "TOTAL"
        if model.name == "TransactWriteItems":  # DynamoDB Local under-reports these
            self.calls.billed_writes += 2 * len(params.get("TransactItems", []))

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.sdk_seconds += time.perf_counter() - self.calls._started
        consumed = parsed.get("ConsumedCapacity") or []
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            units = float(entry.get("CapacityUnits", 0))
            self.calls.reported += units
            if model.name in self.READS:
                self.calls.read_units += units
            elif model.name in self.WRITES:  # index writes included
                self.calls.billed_writes += units


@dataclass
class Row:
    operation: str
    function: str
    requests: int
    reported: float
    billed_writes: float
    read_units: float
    median_ms: float
    outside_sdk_ms: float


class Bench:
    def __init__(self, api_key: str) -> None:
        self.routes = {route.route_key: route for route in routes()}
        self.gateway = Gateway(quiet=True)
        self.api_key = api_key
        self.counter = 0

    def call(self, method: str, path: str, body: Any = None, query: str = "", key: str = "") -> Any:
        route = self.routes[f"{method} {API}{path}"]
        headers = [
            ("authorization", f"APIKey {self.api_key}"),
            ("content-type", "application/json"),
        ]
        if key:
            headers.append(("idempotency-key", key))
        event = build_event(
            method=method,
            target=f"{API}{path}" + (f"?{query}" if query else ""),
            headers=headers,
            body=b"" if body is None else json.dumps(body).encode(),
            route_key=route.route_key,
        )
        answer = self.gateway.handler_for(route)(event, LambdaContext(route))
        result = json.loads(answer["body"])
        if result["code"] != 0:
            raise RuntimeError(f"{method} {path}: {result}")
        return result["result"]

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}-{time.time_ns()}"


def measure(
    bench: Bench,
    recorder: Recorder,
    operation: str,
    function: str,
    prepare: Callable[[], Callable[[], Any]],
) -> Row:
    """Run `prepare()` (untimed), then time the call it returns; WARM_UP + WARM_RUNS times."""
    timings: list[tuple[float, Calls]] = []
    for run in range(WARM_UP + WARM_RUNS):
        call = prepare()
        recorder.reset()
        started = time.perf_counter()
        call()
        elapsed = time.perf_counter() - started
        calls = recorder.reset()
        if run >= WARM_UP:
            timings.append((elapsed, calls))
    elapsed_values = [t for t, _ in timings]
    outside = [t - c.sdk_seconds for t, c in timings]
    return Row(
        operation=operation,
        function=function,
        requests=round(statistics.median(len(c.names) for _, c in timings)),
        reported=statistics.median(c.reported for _, c in timings),
        billed_writes=statistics.median(c.billed_writes for _, c in timings),
        read_units=statistics.median(c.read_units for _, c in timings),
        median_ms=statistics.median(elapsed_values) * 1000,
        outside_sdk_ms=statistics.median(outside) * 1000,
    )


def warm_operations(bench: Bench, recorder: Recorder) -> list[Row]:
    b = bench
    listed = [b.call("POST", "/create", coupon_fields()) for _ in range(25)]
    history = b.call("POST", "/create", coupon_fields(useLimit=0))
    for _ in range(5):
        b.call("POST", "/redeem", {"cpnNo": history})
    memo = iter(range(10**6))
    # Coupons shown with their group's settings (DESIGN 2.7), and with the group's template.
    image = {"imgUrl": "https://img.example.com/bench.png"}
    group = b.call("POST", "/group/create", {"nm": "bench", **image})
    template = b.call("POST", "/template/create", {"nm": "bench"})
    group_with_template = b.call("POST", "/group/create", {"nm": "bench", "tmplIdx": template})
    grouped = [b.call("POST", "/create", coupon_fields(grpIdx=group)) for _ in range(20)]
    with_template = b.call("POST", "/create", coupon_fields(grpIdx=group_with_template))

    def fresh(**fields: Any) -> str:
        return str(b.call("POST", "/create", coupon_fields(**fields)))

    def redeemed() -> tuple[str, str]:
        code = fresh()
        return code, b.call("POST", "/redeem", {"cpnNo": code})["rdmId"]

    def cancel() -> Callable[[], Any]:
        code, rdm_id = redeemed()
        return lambda: b.call("POST", "/redeem/cancel", {"cpnNo": code, "rdmId": rdm_id})

    def replay() -> Callable[[], Any]:
        code, key = fresh(), b.unique("order")
        b.call("POST", "/redeem", {"cpnNo": code}, key=key)
        return lambda: b.call("POST", "/redeem", {"cpnNo": code}, key=key)

    plan: list[tuple[str, str, Callable[[], Callable[[], Any]]]] = [
        ("create", "create", lambda: lambda: b.call("POST", "/create", coupon_fields())),
        ("create + Idempotency-Key", "create",
         lambda: functools.partial(b.call, "POST", "/create", coupon_fields(), key=b.unique("c"))),
        ("create/bulk (10)", "create_bulk",
         lambda: lambda: b.call("POST", "/create/bulk", {**coupon_fields(), "count": 10})),
        ("validate", "validate",
         lambda: lambda: b.call("GET", "/validate", query=f"cpnNo={listed[0]}")),
        ("validate, in a group", "validate",
         lambda: lambda: b.call("GET", "/validate", query=f"cpnNo={grouped[0]}")),
        ("validate, group + template", "validate",
         lambda: lambda: b.call("GET", "/validate", query=f"cpnNo={with_template}")),
        ("redeem", "redeem", lambda: functools.partial(b.call, "POST", "/redeem", {"cpnNo": fresh()})),
        ("redeem + Idempotency-Key", "redeem",
         lambda: functools.partial(b.call, "POST", "/redeem", {"cpnNo": fresh()}, key=b.unique("o"))),
        ("redeem, replayed", "redeem", replay),
        ("redeem/cancel", "redeem_cancel", cancel),
        ("update (memo)", "update",
         lambda: lambda: b.call("PUT", "/update", {"cpnNo": listed[1], "memo": f"m{next(memo)}"})),
        ("delete", "delete", lambda: functools.partial(b.call, "DELETE", "/delete", query=f"cpnNo={fresh()}")),
        ("list (20)", "list", lambda: lambda: b.call("GET", "/list", query="limit=20")),
        ("list (20), a group's", "list",
         lambda: lambda: b.call("GET", "/list", query=f"limit=20&grpIdx={group}")),
        ("create, in a group", "create",
         lambda: lambda: b.call("POST", "/create", coupon_fields(grpIdx=group))),
        ("redemptions", "redemptions",
         lambda: lambda: b.call("GET", "/redemptions", query=f"cpnNo={history}")),
    ]  # fmt: skip
    return [measure(b, recorder, *entry) for entry in plan]


# --- report -----------------------------------------------------------------------------------


def cost_per_million(
    billed_writes: float, read_units: float, median_ms: float, memory_mb: int
) -> list[tuple[str, float]]:
    """Dollars per million operations of these units and warm time, at list prices."""
    billed_ms = max(1, round(median_ms + 0.5))
    gb_seconds = memory_mb / 1024 * billed_ms / 1000
    parts = [
        ("DynamoDB writes", billed_writes * WRITE_UNIT * 1e6),
        ("DynamoDB reads", read_units * READ_UNIT * 1e6),
        (f"Lambda arm64 {memory_mb} MB x {billed_ms} ms", gb_seconds * LAMBDA_ARM_GB_SECOND * 1e6),
        ("Lambda requests", LAMBDA_REQUEST * 1e6),
        ("HTTP API requests", HTTP_API_REQUEST * 1e6),
    ]  # fmt: skip
    return [*parts, ("total", sum(value for _, value in parts))]


def redeem_cost_per_million(row: Row, memory_mb: int) -> list[tuple[str, float]]:
    return cost_per_million(row.billed_writes, row.read_units, row.median_ms, memory_mb)


def case_cost(memory: dict[str, int]) -> Callable[[CaseRow], float]:
    """A per-case row's total dollars per million, at its function's memory."""

    def total(row: CaseRow) -> float:
        function = "redeem" if row.operation == "redeem" else "redeem_cancel"
        parts = cost_per_million(row.billed_writes, row.read_units, row.median_ms, memory[function])
        return parts[-1][1]

    return total


def main() -> int:
    functions = sorted({r.code_dir: r for r in routes()}.values(), key=lambda r: r.code_dir.name)
    print(
        f"Cold import, median of {COLD_RUNS} interleaved fresh interpreters (Python {sys.version.split()[0]})"
    )
    print_cold_imports(cold_imports(functions))

    os.environ.update(_environment())
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # no EMF lines in the report
    # The per-case table starts hundreds of fresh containers, each leasing a share of the
    # account's requests (limits.py, one UpdateItem a container): not what a checkout pays.
    os.environ["ACCOUNT_REQUESTS_PER_MINUTE"] = "0"
    with DynamoDBLocal() as ddb:
        ensure_table(ddb.endpoint, TABLE)
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = ddb.endpoint
        from coupons import accounts  # after the environment is set
        from coupons.store.client import every_client

        account, api_key = accounts.create_account("bench")
        bench = Bench(api_key)
        recorder = Recorder(*every_client())
        rows = warm_operations(bench, recorder)
        cases = measure_cases(bench, account)

    print()
    print(f"Warm requests on DynamoDB Local, median of {WARM_RUNS} after {WARM_UP} warm-up runs")
    print("  RCU/WCU (Local): capacity units DynamoDB Local reports; WCU billed: DynamoDB's rules")
    print(
        "  (a transaction: 2 per item of up to 1 KB; a plain write: as reported, with its index writes)"
    )
    header = f"  {'operation':<26} {'function':<14} {'requests':>8} {'units (Local)':>13} {'WCU billed':>10} {'RCU':>5} {'warm ms':>8} {'outside SDK ms':>14}"
    print(header)
    for row in rows:
        print(
            f"  {row.operation:<26} {row.function:<14} {row.requests:>8} {row.reported:>13.1f}"
            f" {row.billed_writes:>10.0f} {row.read_units:>5.1f} {row.median_ms:>8.1f}"
            f" {row.outside_sdk_ms:>14.1f}"
        )
    memory = {r.code_dir.name: r.memory_size for r in functions}
    for operation in ("redeem", "redeem + Idempotency-Key"):
        row = next(r for r in rows if r.operation == operation)
        print()
        print(f"Cost per million redemptions ({operation}, a single-use coupon), list prices:")
        for label, dollars in redeem_cost_per_million(row, memory["redeem"]):
            print(f"  {label:<40} ${dollars:8.3f}")
    print("  Other coupons and containers: $/M in the per-case table below (a code counted per")
    print("  customer writes the customer's count too: 2 transaction items, 4 WCU at least).")
    print_cases(cases, case_cost(memory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
