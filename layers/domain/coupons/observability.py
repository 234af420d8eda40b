"""The one place that builds powertools' Logger and Metrics for every function."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()


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
