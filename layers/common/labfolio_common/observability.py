"""One Powertools Logger and Metrics per process, configured from the POWERTOOLS_* environment variables that
template.yaml sets (service name per function, namespace "labfolio").

The Tracer is created on first use: importing the X-Ray SDK costs ~0.7 s of cold start, so the latency-sensitive
HTTP functions rely on Lambda's active tracing and only the worker and the scheduled job add subsegments.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger()
metrics = Metrics()

__all__ = ["MetricUnit", "get_tracer", "logger", "metrics"]


@lru_cache(maxsize=1)
def get_tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer()


# A function whose invocation published nothing (a health check) is normal, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
