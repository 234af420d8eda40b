"""Structured logs carry the request id as correlation id, EMF metrics count what matters, and
neither ever contains an API key or an on-site password."""

import io
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

from coupons.observability import logger
from tests.conftest import Api


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
