"""factor_update's real entry point with the event an EventBridge schedule sends."""

from __future__ import annotations

from typing import Any

import pytest
from labfolio_common.catalogue import load_catalogue
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Factor
from pydantic import ValidationError
from sqlalchemy import func, select, update

from tests.fixtures.aws import load_event

pytestmark = pytest.mark.functional


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from factor_update.handler import lambda_handler

    return lambda_handler(event, context)


def test_scheduled_run_loads_the_factor_catalogue(lambda_env: Any, database_url: str, lambda_context: Any) -> None:
    result = run(load_event("eventbridge_scheduled.json"), lambda_context)
    catalogue = load_catalogue()
    assert result == {"factors": len(catalogue)}
    with session_scope(database_url) as session:
        stored = {f.factor_id: (f.factor_name, f.factor_category) for f in session.scalars(select(Factor))}
    assert stored == {f.factor_id: (f.factor_name, f.factor_category) for f in catalogue}


def test_scheduled_run_twice_updates_in_place(lambda_env: Any, database_url: str, lambda_context: Any) -> None:
    run(load_event("eventbridge_scheduled.json"), lambda_context)
    with session_scope(database_url) as session:
        session.execute(update(Factor).where(Factor.factor_id == "SPY").values(factor_name="stale"))
    run(load_event("eventbridge_scheduled.json"), lambda_context)
    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(Factor)) == len(load_catalogue())
        assert session.get(Factor, "SPY").factor_name != "stale"


def test_an_event_that_is_not_a_schedule_is_rejected(lambda_env: Any, lambda_context: Any) -> None:
    with pytest.raises(ValidationError):
        run(load_event("http_api_get_health.json"), lambda_context)
