"""SQL adapter: the factor catalogue into factor.factors (insert or update, never delete)."""

from __future__ import annotations

from collections.abc import Sequence

from labfolio_common.catalogue import CatalogueFactor
from labfolio_common.db.models import Factor
from labfolio_common.db.upsert import upsert
from sqlalchemy.orm import Session

CATALOGUE_COLUMNS = ["factor_name", "factor_description", "factor_category", "entry"]


def upsert_factors(session: Session, factors: Sequence[CatalogueFactor]) -> int:
    """Insert new factors and update the catalogue's columns of known ones; the rows inserted or changed.

    `last_updated` is left alone: it says when the factor's returns were last refreshed (NULL until then)."""
    rows = [
        {
            "factor_id": f.factor_id,
            "factor_name": f.factor_name,
            "factor_description": f.factor_description,
            "factor_category": f.factor_category,
            "entry": f.entry,
            "last_updated": None,
        }
        for f in factors
    ]
    return upsert(session, Factor, rows, ["factor_id"], CATALOGUE_COLUMNS, only_changed=True)
