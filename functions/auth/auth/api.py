"""HTTP routes of the auth function."""

from labfolio_common.http import create_app, health_router

app = create_app("auth", [health_router("auth")], title="labfolio auth")
