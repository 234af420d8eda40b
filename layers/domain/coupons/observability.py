"""The one place that builds powertools' Logger and Metrics for every function."""

import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()
# Read-only routes record no metric on most requests; that is expected, not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str, **dimensions: str) -> None:
    """Add 1 to a metric; with dimensions it goes out as its own EMF blob (e.g. per reason)."""
    if not dimensions:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        return
    from aws_lambda_powertools.metrics import single_metric

    with single_metric(
        name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)
