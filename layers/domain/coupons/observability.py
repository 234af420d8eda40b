"""The one place that sets up powertools' Logger and the EMF metrics of every function.

Logs never carry a secret: the layer logs codes and account ids, never a request, a header or
an item; the handler never logs the event (http.py); and the AWS SDK, which logs whole requests
and responses at DEBUG (the API-key item's key is the key's SHA-256, coupon items hold on-site
passwords), never logs below INFO, whatever level the root logger is given (Lambda's
AWS_LAMBDA_LOG_LEVEL, a debugging session)."""

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    logger: Logger

SDK_LOGGERS = ("botocore", "urllib3")
for _name in SDK_LOGGERS:
    logging.getLogger(_name).setLevel(logging.INFO)


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Add `value` to a metric (namespace from POWERTOOLS_METRICS_NAMESPACE), as its own EMF line
    written now: no metric state is shared between requests, or between the threads of the
    local gateway.

    Nothing is written when POWERTOOLS_METRICS_DISABLED is true (or POWERTOOLS_DEV is, without
    it), as Powertools' Metrics would do: its single_metric prints the line whatever they say.
    Read on every call, like Powertools does, so a test or `make bench` may turn it on or off."""
    # Imported here: a function that never counts (the coupon page's) never loads them.
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


def __getattr__(name: str) -> "Logger":
    """`logger`: powertools' Logger, made the first time a module imports it (the API's
    functions, at INIT). The coupon page's GET function never does, and never loads powertools
    (~40 ms of its cold start): it logs only what fails, through the same Logger."""
    if name != "logger":
        raise AttributeError(name)
    from aws_lambda_powertools import Logger

    made = Logger()
    globals()["logger"] = made
    return made
