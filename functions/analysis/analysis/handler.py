"""Lambda entry point of the analysis HTTP function (API Gateway HTTP API, payload 2.0)."""

from labfolio_common.http import make_http_handler

from analysis.api import app

lambda_handler = make_http_handler(app)
