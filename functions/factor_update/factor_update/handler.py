"""Lambda entry point of factor_update, invoked daily by an EventBridge schedule."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from labfolio_common.observability import logger, metrics
from labfolio_common.settings import get_settings

from factor_update import service


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    scheduled = parse(event=event, model=EventBridgeModel)
    logger.info("scheduled run", extra={"rule": scheduled.resources, "time": scheduled.time.isoformat()})
    return service.run(
        settings.database_url, settings.market_data_provider, history_years=settings.market_history_years
    )
