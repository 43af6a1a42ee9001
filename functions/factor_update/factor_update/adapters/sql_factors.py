"""SQL adapter: the factor catalogue into factor.factors (insert or update, never delete)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from labfolio_common.catalogue import CatalogueFactor
from labfolio_common.db.models import Factor
from labfolio_common.db.upsert import upsert
from sqlalchemy.orm import Session


def upsert_factors(session: Session, factors: Sequence[CatalogueFactor]) -> int:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {
            "factor_id": f.factor_id,
            "factor_name": f.factor_name,
            "factor_description": f.factor_description,
            "factor_category": f.factor_category,
            "last_updated": now,
        }
        for f in factors
    ]
    return upsert(session, Factor.__table__, rows, ["factor_id"])
