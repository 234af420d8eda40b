"""The one place that sets up powertools' Logger and the EMF metrics of every function."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Add `value` to a metric (namespace from POWERTOOLS_METRICS_NAMESPACE), as its own EMF line
    written now: no metric state is shared between requests, or between the threads of the
    local gateway."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
