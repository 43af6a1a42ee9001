"""The analyses API (owner-only: another account's portfolio or analysis answers 404 exactly as a missing one, checked
before the body is read: 401 → 404 → 422).

POST /api/portfolios/{portfolio_id}/analyses       queue an analysis (202 {analysis_id, status: "queued"})
GET  /api/portfolios/{portfolio_id}/analyses       the portfolio's analyses, newest first (limit, cursor)
GET  /api/analyses/{analysis_id}                   one analysis: status, params, timestamps, error or result
GET  /api/analyses/{analysis_id}/export.csv        its result tables as one CSV (formula-safe)
GET  /api/analyses/{analysis_id}/export.json       the same tables as JSON

Results can be large (N holdings x the window): the handlers write JSON themselves rather than through a response
model (the models below document the shapes in the OpenAPI document).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from labfolio_common.auth.deps import CurrentUser
from labfolio_common.db.models import Analysis
from labfolio_common.http import body_schema, json_body
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from analysis.analyses import AnalysisRequest
from analysis.deps import AnalysesServiceDep, OwnedAnalysis, OwnedPortfolio
from analysis.domain.export import to_csv
from analysis.domain.pages import DEFAULT_LIMIT, MAX_LIMIT
from analysis.domain.params import EARLIEST_DATE, LATEST_DATE
from analysis.domain.selection import MAX_FACTORS

router = APIRouter(tags=["analyses"])

FactorId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class AnalysisCreate(BaseModel):
    """Every field is optional: the defaults are the market factor plus the five style factors, spread mode, and the
    last 2 years of common data."""

    model_config = ConfigDict(extra="forbid")

    factor_ids: list[FactorId] | None = Field(
        default=None,
        max_length=50,
        description=f"factor ids from GET /api/factors (at most {MAX_FACTORS}); default: the market factor + styles",
    )
    start: date | None = Field(
        default=None,
        ge=EARLIEST_DATE,
        le=LATEST_DATE,
        description="first day of the window (default: 2 years before end)",
    )
    end: date | None = Field(
        default=None,
        ge=EARLIEST_DATE,
        le=LATEST_DATE,
        description="last day of the window (default: latest common data)",
    )
    factor_mode: Literal["spread", "raw"] = Field(
        default="spread", description="spread: style/sector/country ETFs enter minus the market; raw: as they are"
    )
    hac_lags: int | None = Field(
        default=None, ge=0, le=1000, description="Newey-West lags; default floor(4(T/100)^(2/9))"
    )
    risk_free_rate: float = Field(default=0.0, ge=-0.5, le=1.0, allow_inf_nan=False, description="annual, for Sharpe")
    gross: float | None = Field(
        default=None, gt=0, le=1e13, allow_inf_nan=False, description="size of a weight-only portfolio (1,000,000)"
    )


class AnalysisQueued(BaseModel):
    analysis_id: str
    portfolio_id: str
    status: Literal["queued"] = "queued"


class AnalysisError(BaseModel):
    message: str = Field(description="what went wrong, for people")
    field: str | None = Field(default=None, description="the parameter at fault, when there is one")


class AnalysisSummary(BaseModel):
    analysis_id: str
    portfolio_id: str
    status: Literal["queued", "running", "ready", "failed"]
    trigger: Literal["upload", "request"] = Field(description="upload: the default analysis after an upload")
    params: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: AnalysisError | None


class AnalysisPublic(AnalysisSummary):
    result: dict[str, Any] | None = Field(description="the factor analysis (see docs/analyses.md), once ready")
    inputs: dict[str, Any] | None = Field(description="the holdings used and the stored prices' shape, once ready")


class AnalysisPage(BaseModel):
    items: list[AnalysisSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class ExportTable(BaseModel):
    columns: list[str]
    rows: list[list[Any]]


class AnalysisExport(BaseModel):
    analysis_id: str
    portfolio_id: str
    params: dict[str, Any]
    finished_at: datetime | None
    tables: dict[str, ExportTable]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        401: "no valid session",
        403: "a cookie-authenticated change without X-Requested-With: XMLHttpRequest",
        404: "not the caller's (missing or another account's)",
        409: "not possible in this state (a portfolio without holdings; an export of an analysis that is not ready)",
        422: "a parameter failed validation (each field is listed)",
        503: "the analysis queue did not take the job: the analysis is recorded as failed",
    }
    return {code: {"description": meaning[code]} for code in codes}


# read after the portfolio was found (401 → 404 → 422); an empty body means every default
CreateBody = Annotated[AnalysisCreate, Depends(json_body(AnalysisCreate, empty_means_defaults=True))]
CREATE_BODY = body_schema(AnalysisCreate, required=False)


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _summary(row: Analysis) -> dict[str, Any]:
    return {
        "analysis_id": str(row.analysis_id),
        "portfolio_id": str(row.portfolio_id),
        "status": row.status,
        "trigger": row.trigger,
        "params": row.params,
        "created_at": _time(row.created_at),
        "started_at": _time(row.started_at),
        "finished_at": _time(row.finished_at),
        "error": row.error,
    }


def _public_inputs(inputs: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored inputs without where they are stored (bucket and key stay inside)."""
    if inputs is None:
        return None
    prices = {k: v for k, v in (inputs.get("prices") or {}).items() if k not in ("bucket", "key")}
    return {**inputs, "prices": prices}


def _json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, separators=(",", ":"), allow_nan=False)
    return Response(content=text, status_code=status_code, media_type="application/json", headers=headers)


def _download(name: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }


@router.post(
    "/api/portfolios/{portfolio_id}/analyses",
    status_code=202,
    response_model=AnalysisQueued,
    responses=_errors(401, 403, 404, 409, 422, 503),
    openapi_extra=CREATE_BODY,
)
def create_analysis(
    user: CurrentUser, portfolio: OwnedPortfolio, body: CreateBody, service: AnalysesServiceDep
) -> Response:
    """Queue an analysis of the portfolio; the worker runs it. Poll GET /api/analyses/{analysis_id} for the result."""
    request = AnalysisRequest(**body.model_dump())
    analysis = service.request(user.user_id, portfolio, request)
    location = f"/api/analyses/{analysis.analysis_id}"
    queued = {"analysis_id": str(analysis.analysis_id), "portfolio_id": str(portfolio.portfolio_id), "status": "queued"}
    return _json(queued, 202, {"Location": location})


@router.get("/api/portfolios/{portfolio_id}/analyses", response_model=AnalysisPage, responses=_errors(401, 404, 422))
def list_analyses(
    portfolio: OwnedPortfolio,
    service: AnalysesServiceDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """The portfolio's analyses, newest first, with their status and parameters (no results)."""
    page = service.list_page(portfolio, limit, cursor)
    return _json({"items": [_summary(row) for row in page.items], "next_cursor": page.next_cursor})


@router.get("/api/analyses/{analysis_id}", response_model=AnalysisPublic, responses=_errors(401, 404))
def get_analysis(analysis: OwnedAnalysis) -> Response:
    """One analysis: queued, running, ready (with its result) or failed (with a message saying why)."""
    body = _summary(analysis) | {"result": analysis.result, "inputs": _public_inputs(analysis.inputs)}
    return _json(body)


@router.get(
    "/api/analyses/{analysis_id}/export.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the result tables"},
        **_errors(401, 404, 409),
    },
)
def export_analysis_csv(analysis: OwnedAnalysis, service: AnalysesServiceDep) -> Response:
    """The result's tables in one CSV file (each introduced by its [name]); text cells are formula-safe."""
    text = to_csv(service.export_tables(analysis))
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers=_download(f"analysis-{analysis.analysis_id}.csv"),
    )


@router.get("/api/analyses/{analysis_id}/export.json", response_model=AnalysisExport, responses=_errors(401, 404, 409))
def export_analysis_json(analysis: OwnedAnalysis, service: AnalysesServiceDep) -> Response:
    """The result's tables as JSON: {name: {columns, rows}}."""
    found = service.export_tables(analysis)
    body = {
        "analysis_id": str(analysis.analysis_id),
        "portfolio_id": str(analysis.portfolio_id),
        "params": analysis.params,
        "finished_at": _time(analysis.finished_at),
        "tables": {t.name: t.as_json() for t in found},
    }
    return _json(body, headers=_download(f"analysis-{analysis.analysis_id}.json"))
