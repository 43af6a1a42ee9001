"""The analysis engine's own error: input a person can fix (a factor, the window, the data), said in plain words.

Pure (stdlib only), so the API can import it to answer 422 without loading numpy. The service maps it to
`labfolio_common.errors.ValidationFailedError` at request time, or to an analysis that ends `failed` with `message`.
"""

from __future__ import annotations


class AnalysisInputError(ValueError):
    """The inputs cannot give a meaningful analysis. `message` is for people; `field` names the parameter at fault
    (`factor_ids`, `start`, `end`, `hac_lags`, `holdings`, `prices`, `factor_returns`) when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_detail(self) -> dict[str, str]:
        """A small JSON-ready body: `{"message": ..., "field": ...}` (field only when known)."""
        detail = {"message": self.message}
        if self.field is not None:
            detail["field"] = self.field
        return detail
