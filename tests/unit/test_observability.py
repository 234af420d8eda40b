"""Structured logs carry the request id as correlation id, EMF metrics count what matters, and
neither ever contains an API key or an on-site password."""

import io
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

from coupons.observability import count, logger
from coupons.store import client as store_client
from devstack.template import function_environment, load_template
from tests.conftest import TABLE_NAME, Api
from tests.unit.conftest import ThrottledClient


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """What the layer's Logger writes (its handler holds the stdout of import time)."""
    stream = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_logs_and_metrics_without_secrets(
    api: Api, capfd: pytest.CaptureFixture[str], log_stream: io.StringIO
) -> None:
    assert api.api_key
    secret_pwd = "pin-7731-secret"
    code = api.create(onsitePwd=secret_pwd, useLimit=0).result
    api.redeem(code, onsitePwd="wrong-guess-4410")
    api.redeem("NOSUCHCODE42")
    api.redeem(code, onsitePwd=secret_pwd)
    api.update(code, onsitePwd=secret_pwd + "x")
    api.validate(code)
    Api("not-a-real-key-9931").validate(code)
    output = capfd.readouterr()
    everything = output.out + output.err + log_stream.getvalue()
    for secret in (api.api_key, secret_pwd, "wrong-guess-4410", "not-a-real-key-9931"):
        assert secret not in everything

    logs = _json_lines(log_stream.getvalue())
    lines = _json_lines(output.out)
    assert logs and all(line.get("correlation_id") for line in logs)
    metrics = [line for line in lines if "_aws" in line]
    names = {m["Name"] for line in metrics for d in line["_aws"]["CloudWatchMetrics"]
             for m in d["Metrics"]}  # fmt: skip
    assert {"CouponsCreated", "Redemptions", "RedemptionsRejected"} <= names
    namespaces = {d["Namespace"] for line in metrics for d in line["_aws"]["CloudWatchMetrics"]}
    assert namespaces == {os.environ["POWERTOOLS_METRICS_NAMESPACE"]}
    rejected = [line for line in metrics if "RedemptionsRejected" in line]
    assert [line["reason"] for line in rejected] == ["ONSITE_PASSWORD", "COUPON_NOT_FOUND"]


def _emf(text: str) -> list[dict[str, Any]]:
    return [line for line in _json_lines(text) if "_aws" in line]


def _metric_names(line: dict[str, Any]) -> set[str]:
    return {m["Name"] for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


@pytest.mark.parametrize(
    ("environment", "written"),
    [
        ({}, True),
        ({"POWERTOOLS_METRICS_DISABLED": "false"}, True),
        ({"POWERTOOLS_METRICS_DISABLED": "true"}, False),
        ({"POWERTOOLS_METRICS_DISABLED": "TRUE"}, False),
        ({"POWERTOOLS_DEV": "true"}, False),  # Powertools' own rule: dev mode, not told otherwise
        ({"POWERTOOLS_DEV": "true", "POWERTOOLS_METRICS_DISABLED": "false"}, True),
    ],
)
def test_count_honours_powertools_metrics_disabled(
    environment: dict[str, str],
    written: bool,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """`make bench` sets POWERTOOLS_METRICS_DISABLED=true; single_metric alone ignores it."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    capfd.readouterr()
    count("BenchProbe", 2, reason="x")
    output = capfd.readouterr().out
    lines = _emf(output)
    if written:
        assert len(lines) == 1 and _metric_names(lines[0]) == {"BenchProbe"}
        assert lines[0]["BenchProbe"] == [2.0] and lines[0]["reason"] == "x"
    else:
        assert output == ""


def test_storage_busy_is_counted_as_the_template_alarm_reads_it(
    api: Api, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Each 503/5030 writes one StorageBusy metric with the namespace and dimensions the
    StorageBusy alarm of template.yaml names, in the environment the template gives the
    functions: CloudWatch matches a metric by its exact dimensions, so an extra or missing one
    (or another service name) would leave the alarm without data, silently."""
    deployed = function_environment(TABLE_NAME)
    for name in ("POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"):
        monkeypatch.setenv(name, deployed[name])  # the tests' own namespace is CouponApiTests
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    alarm = load_template()["Resources"]["StorageBusy"]["Properties"]

    api.validate("NOSUCHCODE42")  # authenticated while storage still answers: 404, not counted
    assert not [line for line in _emf(capfd.readouterr().out) if "StorageBusy" in line]

    monkeypatch.setattr(store_client, "client", ThrottledClient)
    assert (api.validate("NOSUCHCODE42").status, api.validate("ABCDEFGH").code) == (503, 5030)
    busy = [line for line in _emf(capfd.readouterr().out) if "StorageBusy" in _metric_names(line)]
    assert len(busy) == 2  # one per refused request
    for line in busy:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == alarm["Namespace"]
        assert directive["Metrics"] == [{"Name": alarm["MetricName"], "Unit": "Count"}]
        (dimension_names,) = directive["Dimensions"]
        assert {name: line[name] for name in dimension_names} == {
            d["Name"]: d["Value"] for d in alarm["Dimensions"]
        }
        assert line[alarm["MetricName"]] == [1.0] and alarm["Statistic"] == "Sum"
