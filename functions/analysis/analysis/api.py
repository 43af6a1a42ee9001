"""HTTP routes of the analysis function: its health, the factor library (analysis.factors_api) and the analyses
(analysis.analyses_api)."""

from labfolio_common.http import create_app, health_router

from analysis.analyses_api import router as analyses_router
from analysis.factors_api import router as factors_router

app = create_app("analysis", [health_router("analysis"), factors_router, analyses_router], title="labfolio analysis")
