"""HTTP routes of the analysis function: its health, and the factor library (analysis.factors_api)."""

from labfolio_common.http import create_app, health_router

from analysis.factors_api import router as factors_router

app = create_app("analysis", [health_router("analysis"), factors_router], title="labfolio analysis")
