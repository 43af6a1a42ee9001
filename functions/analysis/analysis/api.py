"""HTTP routes of the analysis function."""

from labfolio_common.http import create_app, health_router

app = create_app("analysis", [health_router("analysis")], title="labfolio analysis")
