"""Lambda entry point of the auth function (API Gateway HTTP API, payload 2.0)."""

from labfolio_common.http import make_http_handler

from auth.api import app

lambda_handler = make_http_handler(app)
