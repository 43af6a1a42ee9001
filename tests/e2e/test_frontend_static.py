"""Static checks of frontend/: user data can only be text, no inline scripts (CSP), licences beside vendored code and
the JavaScript within its budget."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

FRONTEND = Path(__file__).parents[2] / "frontend"
OWN_JS = sorted((FRONTEND / "js").glob("*.js"))


def test_no_html_parsing_sinks_in_the_app_code() -> None:
    assert OWN_JS
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(")
    lines = [(path.name, line.strip()) for path in OWN_JS for line in path.read_text().splitlines()]
    found = [f"{name}: {line}" for name, line in lines if sinks.search(line)]
    assert found == []


def test_pages_have_no_inline_scripts_or_handlers() -> None:
    for page in FRONTEND.glob("*.html"):
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page.name
        assert not re.search(r"\son[a-z]+\s*=", html), page.name


def test_vendored_code_carries_its_licence_and_js_fits_the_budget() -> None:
    vendored = list((FRONTEND / "vendor").rglob("*.js"))
    assert vendored
    for path in vendored:
        assert (path.parent / "LICENSE").is_file(), path
    total = sum(p.stat().st_size for p in FRONTEND.rglob("*.js"))
    assert total <= 1_500_000, total
