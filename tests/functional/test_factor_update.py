"""factor_update's real entry point with the event an EventBridge schedule sends (offline market data, as the local
stack's samconfig environment sets it)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from labfolio_common.catalogue import load_catalogue
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import Factor, FactorReturn
from pydantic import ValidationError
from sqlalchemy import func, select, update

from tests.fixtures.aws import load_event

pytestmark = pytest.mark.functional

OFFLINE_FACTORS = {"SP500", "MTUM", "QUAL", "SIZE", "USMV", "VLUE"}


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from factor_update.handler import lambda_handler

    return lambda_handler(event, context)


def test_scheduled_run_loads_the_catalogue_and_backfills_the_offline_factors(
    lambda_env: Any, database_url: str, lambda_context: Any
) -> None:
    # when
    result = run(load_event("eventbridge_scheduled.json"), lambda_context)
    # then the summary names what was updated and what the offline data does not have
    catalogue = load_catalogue()
    assert (result["provider"], result["demo_data"], result["as_of"]) == ("offline", True, "2022-12-28")
    assert set(result["updated"]) == OFFLINE_FACTORS
    assert result["updated"]["MTUM"] == 2263  # 2,264 prices from 2014-01-02: every day but the first has a return
    assert result["failed"] == {}
    assert result["skipped"] == sorted(f.factor_id for f in catalogue if f.factor_id not in OFFLINE_FACTORS)
    with session_scope(database_url) as session:
        stored = {f.factor_id: (f.factor_name, f.factor_category, f.entry) for f in session.scalars(select(Factor))}
        mtum = session.execute(
            select(func.min(FactorReturn.date), func.max(FactorReturn.date)).where(FactorReturn.factor_id == "MTUM")
        ).one()
        sources = dict(session.execute(select(Factor.factor_id, Factor.data_source)).all())
    assert stored == {f.factor_id: (f.factor_name, f.factor_category, f.entry) for f in catalogue}
    assert tuple(mtum) == (date(2014, 1, 3), date(2022, 12, 28))
    assert {f for f, source in sources.items() if source == "offline"} == OFFLINE_FACTORS


def test_scheduled_run_twice_changes_nothing_the_second_time(
    lambda_env: Any, database_url: str, lambda_context: Any
) -> None:
    run(load_event("eventbridge_scheduled.json"), lambda_context)
    with session_scope(database_url) as session:
        session.execute(update(Factor).where(Factor.factor_id == "SPY").values(factor_name="stale"))
    second = run(load_event("eventbridge_scheduled.json"), lambda_context)
    assert second["updated"] == dict.fromkeys(OFFLINE_FACTORS, 0)
    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(Factor)) == len(load_catalogue())
        assert session.get_one(Factor, "SPY").factor_name != "stale"  # the catalogue is upserted on every run


def test_an_event_that_is_not_a_schedule_is_rejected(lambda_env: Any, lambda_context: Any) -> None:
    with pytest.raises(ValidationError):
        run(load_event("http_api_get_health.json"), lambda_context)
