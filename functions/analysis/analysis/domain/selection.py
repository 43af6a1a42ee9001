"""Rules on the analysis parameters that need no data: factor choice, how each factor enters, sample-size floors.

Pure (stdlib only): the API can check a request (422) with these without loading numpy; the engine applies the same
rules again on the data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal

from analysis.domain.errors import AnalysisInputError

FactorMode = Literal["market", "spread", "raw"]
FactorEntry = Literal["spread", "raw"]

MAX_FACTORS: Final = 15
MIN_OBSERVATIONS_FLOOR: Final = 60
DEFAULT_STYLE_FACTORS: Final = ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")


def min_observations(n_factors: int) -> int:
    """The fewest common daily observations an analysis with `n_factors` factors accepts: max(60, 3·(K+1))."""
    return max(MIN_OBSERVATIONS_FLOOR, 3 * (n_factors + 1))


def default_hac_lags(observations: int) -> int:
    """Newey-West's rule of thumb: floor(4·(T/100)^(2/9))."""
    growth: float = (observations / 100) ** (2 / 9)
    return math.floor(4 * growth)


def validate_factor_ids(factor_ids: Sequence[str], known: Iterable[str]) -> None:
    """Raise AnalysisInputError for no factors, unknown or duplicate ids, or more than MAX_FACTORS."""
    if not factor_ids:
        raise AnalysisInputError("choose at least one factor", field="factor_ids")
    known_ids = set(known)
    unknown = [f for f in factor_ids if f not in known_ids]
    if unknown:
        raise AnalysisInputError(f"unknown factor(s): {', '.join(unknown)}", field="factor_ids")
    duplicates = [f for f, n in Counter(factor_ids).items() if n > 1]
    if duplicates:
        raise AnalysisInputError(f"factor(s) chosen more than once: {', '.join(duplicates)}", field="factor_ids")
    if len(factor_ids) > MAX_FACTORS:
        raise AnalysisInputError(
            f"{len(factor_ids)} factors chosen; at most {MAX_FACTORS} are allowed", field="factor_ids"
        )


def factor_modes(
    factor_ids: Sequence[str],
    market_factor: str,
    factor_mode: FactorEntry,
    entries: Mapping[str, FactorEntry],
) -> dict[str, FactorMode]:
    """How each factor enters: the market factor as itself ("market"); in "raw" mode every other factor raw; in
    "spread" mode each other factor as its catalogue entry says (styles/sectors/countries as spreads against the
    market, rates/credit raw)."""
    modes: dict[str, FactorMode] = {}
    for factor_id in factor_ids:
        if factor_id == market_factor:
            modes[factor_id] = "market"
        elif factor_mode == "raw":
            modes[factor_id] = "raw"
        else:
            modes[factor_id] = entries.get(factor_id, "spread")
    return modes
