"""HTTP routes of the portfolios function, including the stack-wide `GET /api/health`.

Every /api/portfolios route but the template needs the caller's session and acts only on the caller's portfolios;
another account's portfolio answers 404 exactly as a missing one, checked before the body is read (401 → 404 → 422).
`/api/portfolios/template.csv` is declared before `/api/portfolios/{portfolio_id}`, so FastAPI, like API Gateway
and the local gateway, prefers the exact path.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from labfolio_common.auth.deps import CurrentUser
from labfolio_common.http import create_app, health_router
from labfolio_common.portfolio_csv import MAX_BYTES, template_csv

from portfolios.deps import OwnedPortfolio, ServiceDep, body_schema, json_body
from portfolios.domain.pages import DEFAULT_LIMIT, MAX_LIMIT
from portfolios.health import PublicHealth, StackHealth, check_stack, recent_check
from portfolios.schemas import (
    HoldingPublic,
    PortfolioCreated,
    PortfolioNameRequest,
    PortfolioPage,
    PortfolioPublic,
    UploadForm,
)

health = APIRouter(tags=["health"])
router = APIRouter(prefix="/api/portfolios", tags=["portfolios"])

NameBody = Annotated[PortfolioNameRequest, Depends(json_body(PortfolioNameRequest))]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]
CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": f"the portfolio CSV, at most {MAX_BYTES:,} bytes",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}
CSV_FILE = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "a CSV file"}}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        401: "no valid session",
        403: "a cookie-authenticated change without X-Requested-With: XMLHttpRequest",
        404: "not a portfolio of the caller (missing or another account's)",
        413: f"the file is over {MAX_BYTES:,} bytes",
        422: "a field (or the file) failed validation",
    }
    return {code: {"description": meaning[code]} for code in codes}


def _csv(body: bytes, filename: str, cache: str) -> Response:
    return Response(
        content=body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": cache,
        },
    )


@health.get("/api/health", response_model=PublicHealth, responses={503: {"model": PublicHealth}})
def get_stack_health() -> JSONResponse:
    """Public: is the stack up (database, uploads bucket, analysis queue all answering)? 503 if not. Checked at most
    once every few seconds; the parts are at /api/health/detail."""
    found = recent_check()
    return JSONResponse({"status": found.status}, status_code=200 if found.status == "ok" else 503)


@health.get("/api/health/detail", response_model=StackHealth, responses=_errors(401) | {503: {"model": StackHealth}})
def get_stack_health_detail(user: CurrentUser) -> JSONResponse:
    """For signed-in callers: each part's state and latency, and the analysis queue's depth (503 if any is down)."""
    found = check_stack()
    return JSONResponse(found.model_dump(), status_code=200 if found.status == "ok" else 503)


@router.get("/template.csv", response_class=Response, responses=CSV_FILE)
def get_template() -> Response:
    """A portfolio template with the demo holdings (public: no session needed)."""
    return _csv(template_csv(), "labfolio-template.csv", "public, max-age=3600")


@router.post("", status_code=201, responses=_errors(401, 403, 422), openapi_extra=body_schema(PortfolioNameRequest))
def create_portfolio(user: CurrentUser, body: NameBody, service: ServiceDep) -> PortfolioCreated:
    """A new portfolio awaiting its file, and a presigned POST to upload it straight to S3 (text/csv, ≤ 1 MB)."""
    portfolio, form = service.create(user.user_id, body.portfolio_name)
    return PortfolioCreated(**portfolio.model_dump(), upload=form)


@router.get("", responses=_errors(401, 422))
def list_portfolios(
    user: CurrentUser,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> PortfolioPage:
    """The caller's portfolios, newest first, with their status and holdings count."""
    return service.list_page(user.user_id, limit, cursor)


@router.get("/{portfolio_id}", responses=_errors(401, 404))
def get_portfolio(portfolio: OwnedPortfolio, service: ServiceDep) -> PortfolioPublic:
    """One portfolio: status, row-level errors, warnings, holdings count and its last upload."""
    return service.describe(portfolio)


@router.patch("/{portfolio_id}", responses=_errors(401, 403, 404, 422), openapi_extra=body_schema(PortfolioNameRequest))
def rename_portfolio(portfolio: OwnedPortfolio, body: NameBody, service: ServiceDep) -> PortfolioPublic:
    return service.rename(portfolio, body.portfolio_name)


@router.delete("/{portfolio_id}", status_code=204, response_class=Response, responses=_errors(401, 403, 404))
def delete_portfolio(user: CurrentUser, portfolio: OwnedPortfolio, service: ServiceDep) -> Response:
    """Delete the portfolio, its holdings and uploads, and its files in S3."""
    service.delete(user.user_id, portfolio)
    return Response(status_code=204)


@router.put(
    "/{portfolio_id}/csv",
    status_code=202,
    responses=_errors(401, 403, 404, 413, 422),
    openapi_extra=CSV_BODY,
)
def put_portfolio_csv(
    user: CurrentUser, portfolio: OwnedPortfolio, body: RawBody, service: ServiceDep
) -> PortfolioPublic:
    """Upload the CSV through the API (command-line clients): stored in S3, then processed like a browser upload."""
    return service.put_csv(user.user_id, portfolio, body)


@router.post("/{portfolio_id}/upload", status_code=201, responses=_errors(401, 403, 404))
def create_upload_form(user: CurrentUser, portfolio: OwnedPortfolio, service: ServiceDep) -> UploadForm:
    """A presigned POST for a new file of the portfolio (a re-upload from the browser)."""
    return service.upload_form(user.user_id, portfolio)


@router.get("/{portfolio_id}/holdings", responses=_errors(401, 404))
def list_holdings(portfolio: OwnedPortfolio, service: ServiceDep) -> list[HoldingPublic]:
    """The holdings, each at its last cached price, with market value and weight."""
    return [HoldingPublic(**asdict(h)) for h in service.holdings(portfolio)]


@router.get("/{portfolio_id}/file", response_class=Response, responses={**CSV_FILE, **_errors(401, 404)})
def get_portfolio_file(portfolio: OwnedPortfolio, service: ServiceDep) -> Response:
    """The CSV behind the current holdings, as it was uploaded (only its owner)."""
    found = service.stored_file(portfolio)
    return _csv(found.body, found.filename, "private, no-store")


app = create_app("portfolios", [health_router("portfolios"), health, router], title="labfolio portfolios")
