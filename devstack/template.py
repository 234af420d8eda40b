"""The one reader of ``template.yaml``: routes, table definition and function environment.

Everything the dev stack needs to know about the deployed shape comes from here, so the local
stack cannot drift from the template.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

# Short tags whose long form is not simply "Fn::<Name>".
_SPECIAL_TAGS = {"Ref": "Ref", "Condition": "Condition"}
_FN_TAGS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "ForEach",
    "GetAtt",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
)

# Pseudo parameters, resolved to what the local stack pretends to be.
_PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "coupons-dev",
}

# create_table accepts these (after conversion); everything else in the CloudFormation resource
# (PointInTimeRecoverySpecification, TimeToLiveSpecification, SSESpecification, Tags, ...) is
# either set through another API call or irrelevant locally.
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic function tags."""


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(
        None, None, f"unexpected node {node!r}", node.start_mark
    )


def _make_constructor(long_name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value = _construct_node(loader, node)
        if long_name == "Fn::GetAtt" and isinstance(value, str):
            # "!GetAtt Resource.Attr.With.Dots" -> ["Resource", "Attr.With.Dots"]
            resource, _, attribute = value.partition(".")
            value = [resource, attribute]
        return {long_name: value}

    return construct


for _tag, _long in _SPECIAL_TAGS.items():
    _CfnLoader.add_constructor(f"!{_tag}", _make_constructor(_long))
for _tag in _FN_TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _make_constructor(f"Fn::{_tag}"))


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_CfnLoader)  # a SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a CloudFormation template (top level is not a mapping)")
    return data


def load_template(path: Path | None = None) -> dict[str, Any]:
    """Parse ``template.yaml`` (cached) with short CFN tags turned into their long form.

    Returns a copy, so callers may modify it freely.
    """
    return copy.deepcopy(_load_cached((path or TEMPLATE_PATH).resolve()))


def _template(path: Path | None) -> dict[str, Any]:
    return _load_cached((path or TEMPLATE_PATH).resolve())


def _resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    resources = template.get("Resources") or {}
    return {
        logical_id: res
        for logical_id, res in resources.items()
        if isinstance(res, dict) and res.get("Type") == type_
    }


def _table_resource(path: Path | None = None) -> tuple[str, dict[str, Any]]:
    tables = _resources(_template(path), "AWS::DynamoDB::Table")
    if len(tables) != 1:
        raise ValueError(
            f"expected exactly one AWS::DynamoDB::Table in the template, found {sorted(tables)}"
        )
    logical_id, resource = next(iter(tables.items()))
    return logical_id, resource.get("Properties") or {}


def table_logical_id(path: Path | None = None) -> str:
    """Logical id of the template's single DynamoDB table (e.g. ``CouponTable``)."""
    return _table_resource(path)[0]


def _throughput(value: dict[str, Any]) -> dict[str, int]:
    return {key: int(value[key]) for key in ("ReadCapacityUnits", "WriteCapacityUnits")}


def _index(index: dict[str, Any]) -> dict[str, Any]:
    out = {key: copy.deepcopy(index[key]) for key in _INDEX_KEYS if key in index}
    if "ProvisionedThroughput" in out:
        out["ProvisionedThroughput"] = _throughput(out["ProvisionedThroughput"])
    return out


def table_create_kwargs(table_name: str, path: Path | None = None) -> dict[str, Any]:
    """boto3 ``create_table`` keyword arguments built from the template's table resource."""
    _, props = _table_resource(path)
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": copy.deepcopy(props["AttributeDefinitions"]),
        "KeySchema": copy.deepcopy(props["KeySchema"]),
    }
    if "BillingMode" in props:
        kwargs["BillingMode"] = props["BillingMode"]
    if "ProvisionedThroughput" in props:
        kwargs["ProvisionedThroughput"] = _throughput(props["ProvisionedThroughput"])
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            kwargs[key] = [_index(index) for index in props[key]]
    stream = props.get("StreamSpecification")
    if isinstance(stream, dict) and "StreamViewType" in stream:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    return kwargs


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def ttl_attribute(path: Path | None = None) -> str | None:
    """The table's TTL attribute name, or ``None`` if TTL is not enabled in the template."""
    _, props = _table_resource(path)
    spec = props.get("TimeToLiveSpecification")
    if not isinstance(spec, dict) or not _truthy(spec.get("Enabled")):
        return None
    name = spec.get("AttributeName")
    return name if isinstance(name, str) and name else None


@dataclass(frozen=True)
class Route:
    """One HttpApi route of the template and the function that serves it."""

    method: str  # upper-case HTTP method or "ANY"
    path: str  # "/api/coupon/v1/create" or "$default"
    function_logical_id: str
    code_dir: Path
    handler: str  # "app.handler"
    memory_size: int = 128  # SAM defaults
    timeout: int = 3

    @property
    def route_key(self) -> str:
        """The API Gateway route key: ``"POST /path"`` or ``"$default"``."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


# One path parameter of an HttpApi route: `{name}`, matching one whole path segment.
_PATH_PARAMETER = re.compile(r"\{([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class RouteMatch:
    """The route a request resolves to, with its path parameters (``{token}``), if any."""

    route: Route
    path_parameters: dict[str, str]


class RouteTable:
    """API Gateway's route selection for HTTP APIs, for the routes this template uses: a path
    matched exactly wins over a templated one (``/c/{token}``: each ``{name}`` matches one
    whole, non-empty path segment), the exact method over ``ANY``, and ``$default`` catches the
    rest. Greedy parameters (``{proxy+}``) are not supported (the template has none)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._exact: dict[tuple[str, str], Route] = {}
        self._templated: list[tuple[str, re.Pattern[str], list[str], Route]] = []
        self.default: Route | None = None
        for route in routes:
            if route.path == "$default":
                self.default = self.default or route
            elif "{" in route.path:
                if "+}" in route.path:
                    raise ValueError(f"{route.route_key}: greedy path parameters not supported")
                self._templated.append((route.method, *_path_pattern(route.path), route))
            else:
                self._exact.setdefault((route.method, route.path), route)
        # More literal segments first: /c/{token}/use before /c/{token}/{other}.
        self._templated.sort(key=lambda entry: -_literal_segments(entry[3].path))

    def resolve(self, method: str, path: str) -> RouteMatch | None:
        """The route for ``method path``: exact path (exact method, then ``ANY``), then a
        templated path (likewise), then ``$default``; ``None`` when nothing matches."""
        method = method.upper()
        for wanted in (method, "ANY"):
            route = self._exact.get((wanted, path))
            if route is not None:
                return RouteMatch(route, {})
        for wanted in (method, "ANY"):
            for route_method, pattern, names, route in self._templated:
                found = pattern.fullmatch(path) if route_method == wanted else None
                if found:
                    return RouteMatch(route, dict(zip(names, found.groups(), strict=True)))
        return None if self.default is None else RouteMatch(self.default, {})


def _path_pattern(path: str) -> tuple[re.Pattern[str], list[str]]:
    names: list[str] = []
    parts: list[str] = []
    position = 0
    for found in _PATH_PARAMETER.finditer(path):
        parts.append(re.escape(path[position : found.start()]))
        parts.append("([^/]+)")
        names.append(found.group(1))
        position = found.end()
    parts.append(re.escape(path[position:]))
    return re.compile("".join(parts)), names


def _literal_segments(path: str) -> int:
    return sum(1 for segment in path.split("/") if segment and "{" not in segment)


def _globals_function(template: dict[str, Any]) -> dict[str, Any]:
    return ((template.get("Globals") or {}).get("Function")) or {}


def routes(path: Path | None = None) -> list[Route]:
    """Every ``HttpApi`` event of every ``AWS::Serverless::Function``, in template order."""
    template = _template(path)
    root = (path or TEMPLATE_PATH).resolve().parent
    glob = _globals_function(template)
    found: list[Route] = []
    for logical_id, res in _resources(template, "AWS::Serverless::Function").items():
        props = res.get("Properties") or {}
        code_uri = props.get("CodeUri", glob.get("CodeUri"))
        handler = props.get("Handler", glob.get("Handler"))
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            raise ValueError(f"{logical_id}: needs a local CodeUri and a Handler")
        memory = int(props.get("MemorySize", glob.get("MemorySize", 128)))
        timeout = int(props.get("Timeout", glob.get("Timeout", 3)))
        for event in (props.get("Events") or {}).values():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            ev_props = event.get("Properties") or {}
            # SAM: an HttpApi event without Path/Method is the catch-all "$default" route.
            found.append(
                Route(
                    method=str(ev_props.get("Method", "ANY")).upper(),
                    path=str(ev_props.get("Path", "$default")),
                    function_logical_id=logical_id,
                    code_dir=(root / code_uri).resolve(),
                    handler=handler,
                    memory_size=memory,
                    timeout=timeout,
                )
            )
    return found


def _env_value(name: str, value: Any, template: dict[str, Any], table: tuple[str, str]) -> str:
    table_id, table_name = table
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        ref = value["Ref"]
        if ref == table_id:
            return table_name
        params = template.get("Parameters") or {}
        if ref in params:
            if "Default" not in params[ref]:
                raise ValueError(f"{name}: parameter {ref} has no Default; pass an override")
            return _env_value(name, params[ref]["Default"], template, table)
        if ref in _PSEUDO_PARAMETERS:
            return _PSEUDO_PARAMETERS[ref]
    raise ValueError(f"{name}: cannot resolve {value!r} locally; pass an override")


def function_environment(
    table_name: str, overrides: dict[str, str] | None = None, path: Path | None = None
) -> dict[str, str]:
    """``Globals.Function.Environment.Variables`` resolved for the local stack.

    ``!Ref <Parameter>`` becomes the parameter's Default, ``!Ref <table>`` becomes
    ``table_name``; ``overrides`` win (and need not be resolvable).
    """
    template = _template(path)
    variables = (_globals_function(template).get("Environment") or {}).get("Variables") or {}
    overrides = overrides or {}
    table = (table_logical_id(path), table_name)
    env = {
        name: _env_value(name, value, template, table)
        for name, value in variables.items()
        # Conditional variables (e.g. the DynamoDB endpoint for `sam local`) are absent by
        # default; the local stack sets what it needs through `overrides`.
        if name not in overrides and not (isinstance(value, dict) and "Fn::If" in value)
    }
    env.update(overrides)
    return env
