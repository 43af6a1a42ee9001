"""HTTP routes of the portfolios function, including the stack-wide `GET /api/health`."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from labfolio_common.http import create_app, health_router

from portfolios.health import StackHealth, check_stack

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=StackHealth, responses={503: {"model": StackHealth}})
def get_stack_health() -> JSONResponse:
    """The state of each part the product needs: database, uploads bucket, analysis queue (503 if any is down)."""
    health = check_stack()
    return JSONResponse(health.model_dump(), status_code=200 if health.status == "ok" else 503)


app = create_app("portfolios", [health_router("portfolios"), router], title="labfolio portfolios")
