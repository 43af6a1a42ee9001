"""The frontend in headless Chromium against the local stack: accounts, portfolios with a browser upload straight to
S3, live status, row errors, the analysis page's numbers and charts, the factor library, the footer, text-only
rendering of user data and one account not seeing another's portfolios."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD, VIEWPORT, Watch, _json, sign_up, unique
from tests.fixtures.polling import wait_for

pytestmark = pytest.mark.e2e

BAD_CSV = Path(__file__).parents[1] / "data" / "portfolios" / "bad" / "many_problems.csv"
XSS = "<img src=x onerror=alert(1)>"


def until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression from here until it is true. Not page.wait_for_function: its predicate runs as
    eval in the page, which the deployed Content-Security-Policy (script-src 'self', no 'unsafe-eval') refuses."""
    wait_for(lambda: page.evaluate(expression), timeout, every=0.1)


@pytest.fixture(scope="module")
def template_csv(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("csv") / "labfolio-template.csv"
    with urllib.request.urlopen(f"{base_url}/api/portfolios/template.csv", timeout=30) as response:
        path.write_bytes(response.read())
    return path


def drop_file(page: Any, zone: str, csv: Path) -> None:
    """Drag and drop a file onto a drop zone (the DataTransfer is built in the page)."""
    transfer = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, { type: "text/csv" }));
            return transfer;
        }""",
        [csv.name, csv.read_text()],
    )
    page.dispatch_event(zone, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(zone, "drop", {"dataTransfer": transfer})


def create_portfolio(page: Any, name: str, csv: Path, *, drop: bool = False) -> str:
    page.goto("/#/portfolios")
    page.fill("#f-portfolio_name", name)
    if drop:
        drop_file(page, "#create-portfolio .dropzone", csv)
    else:
        page.set_input_files("#create-file", str(csv))
    page.wait_for_selector(f"#create-portfolio .chosen:has-text('{csv.name}')")
    page.click("#create-portfolio button[type=submit]")
    page.wait_for_url(re.compile(r".*#/portfolios/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[-1]


def wait_status(page: Any, status: str) -> None:
    page.wait_for_selector(f"#portfolio-status [data-status={status}]", timeout=60_000)


def money(value: float) -> str:
    return f"${value:,.0f}"


def pct(value: float, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f}%"


def test_footer_on_every_page(page: Any) -> None:
    for route, ready in (("/#/login", "#login-form"), ("/#/signup", "#signup-form"), ("/#/factors", ".factor-table")):
        page.goto(route)
        page.wait_for_selector(ready)
        footer = page.locator("footer")
        assert "for information only — not investment advice" in footer.inner_text().lower()
        assert footer.locator("a[href='#/api']").count() == 1  # served in AWS too (not the local-only /api/docs)
        assert "Apache License 2.0" in footer.locator("a[rel=license]").inner_text()
    sign_up(page)
    assert "not investment advice" in page.locator("footer").inner_text()


def test_sign_up_shows_field_errors_next_to_fields(page: Any, screenshots: Path) -> None:
    page.goto("/#/signup")
    page.fill("#f-username", "a")
    page.fill("#f-password", "short")
    page.click("#signup-form button[type=submit]")
    page.wait_for_selector("#f-username-error:not(:empty)")
    assert page.locator("#f-password-error").inner_text() != ""
    assert page.get_attribute("#f-username", "aria-invalid") == "true"
    page.screenshot(path=screenshots / "signup-errors.png")
    # a taken username is said next to the username
    taken = unique()
    sign_up(page, taken)
    page.click("#logout")
    page.wait_for_selector("#login-form")
    page.goto("/#/signup")
    page.fill("#f-username", taken)
    page.fill("#f-password", PASSWORD)
    page.click("#signup-form button[type=submit]")
    page.wait_for_selector("#f-username-error:not(:empty)")
    # a wrong password at login is said on the form
    page.goto("/#/login")
    page.fill("#f-username", taken)
    page.fill("#f-password", "not the password")
    page.press("#f-password", "Enter")  # the keyboard submits the form
    page.wait_for_selector("#login-form .notice.error")
    assert page.title() == "Log in · labfolio"


def test_upload_analysis_and_logout(page: Any, template_csv: Path, screenshots: Path) -> None:
    sign_up(page)
    page.screenshot(path=screenshots / "portfolios-empty.png")
    portfolio_id = create_portfolio(page, "Core holdings", template_csv)
    wait_status(page, "ready")
    api_holdings = page.request.get(f"/api/portfolios/{portfolio_id}/holdings").json()
    assert page.locator("#holdings-table tbody tr").count() == len(api_holdings) > 0
    page.wait_for_selector("#analysis-form")
    page.screenshot(path=screenshots / "portfolio.png", full_page=True)

    # the list shows it ready with its holdings count
    page.goto("/#/portfolios")
    row = page.locator("#portfolio-table tbody tr", has_text="Core holdings")
    row.wait_for()
    assert "ready" in row.inner_text() and str(len(api_holdings)) in row.inner_text()

    if page.request.get(f"/api/portfolios/{portfolio_id}/analyses").status == 404:
        log_out_ends_session(page, portfolio_id)
        pytest.skip("the analyses API is not served by this stack")

    # a window the API refuses is said next to its field; then the default factors and window, watched to the end
    page.goto(f"/#/portfolios/{portfolio_id}")
    page.fill("#f-start", "2022-12-01")
    page.fill("#f-end", "2022-01-01")
    page.click("#run-analysis")
    page.wait_for_selector("#analysis-form .field-error[data-for=start]:not(:empty)")
    page.fill("#f-start", "")
    page.fill("#f-end", "")
    page.click("#run-analysis")
    page.wait_for_url(re.compile(r".*#/analyses/[0-9a-f-]{36}$"))
    analysis_id = page.url.rsplit("/", 1)[-1]
    page.wait_for_selector("#chart-correlations[data-drawn=true]", timeout=60_000)
    analysis = page.request.get(f"/api/analyses/{analysis_id}").json()
    assert analysis["status"] == "ready"
    result = analysis["result"]

    # headline numbers equal the API's
    cards = {
        "#card-nav .stat-value": money(result["nav"]),
        "#card-vol .stat-value": pct(result["risk"]["total_vol_annual"]),
        "#card-r2 .stat-value": f"{result['portfolio']['r_squared']:.3f}",
        "#card-alpha .stat-value": pct(result["portfolio"]["alpha_annual"], 2),
    }
    for selector, expected in cards.items():
        assert page.locator(selector).inner_text() == expected, selector
    assert f"{result['portfolio']['alpha_t']:.2f}" in page.locator("#card-alpha").inner_text()
    share = page.locator("#card-share .stat-value").inner_text()
    assert share == f"{pct(result['risk']['factor_share'], 0)} / {pct(result['risk']['specific_share'], 0)}"
    assert float(page.get_attribute("#card-nav", "data-value") or "nan") == result["nav"]

    # betas table, hedges and holdings follow the result
    factor_ids = [f["factor_id"] for f in result["factors"]]
    beta_rows = page.locator("#betas-table tbody tr")
    assert beta_rows.count() == len(factor_ids)
    for i, factor_id in enumerate(factor_ids):
        cells = beta_rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == factor_id
        assert cells.nth(2).inner_text() == f"{result['portfolio']['betas'][factor_id]:.3f}"
    assert page.locator("#hedge-table tbody tr").count() == len(result["hedges"])
    assert page.locator("#holdings-result-table tbody tr").count() == len(result["holdings"])

    # every chart is drawn, with data
    for chart_id in (
        "chart-betas",
        "chart-risk-split",
        "chart-risk-factors",
        "chart-risk-holdings",
        "chart-attribution",
        "chart-rolling",
        "chart-correlations",
    ):
        box = page.locator(f"#{chart_id}")
        assert box.locator("canvas").count() >= 1, chart_id
        assert int(box.get_attribute("data-points") or "0") > 0, chart_id
    assert int(page.get_attribute("#chart-attribution", "data-points") or "0") == len(result["attribution"]["dates"])

    # the offline provider's numbers say so
    assert result["window"]["demo_data"] is True
    assert page.locator("#demo-badge").is_visible()
    assert page.locator("#demo-badge").inner_text() == "demo data (2014\u20132022)"
    assert page.get_attribute("#export-csv", "href") == f"/api/analyses/{analysis_id}/export.csv"
    assert page.request.get(f"/api/analyses/{analysis_id}/export.csv").ok
    page.screenshot(path=screenshots / "analysis.png", full_page=True)
    measure_analysis_page(page, screenshots)
    log_out_ends_session(page, portfolio_id)


def measure_analysis_page(page: Any, artifacts: Path) -> None:
    """A cold load of the analysis page (new context: empty cache, same session): when its numbers and its charts are
    on screen, and how much JavaScript it fetched."""
    url = page.url
    context = page.context.browser.new_context(viewport=VIEWPORT, storage_state=page.context.storage_state())
    fresh = context.new_page()
    try:
        fresh.goto(url)
        fresh.wait_for_selector("#chart-correlations[data-drawn=true]")
        timings = fresh.evaluate(
            """() => {
              const mark = (n) => performance.getEntriesByName(n)[0]?.startTime ?? null;
              const paint = performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null;
              const scripts = performance.getEntriesByType("resource").filter((e) => e.initiatorType === "script"
                || e.name.endsWith(".js"));
              const nav = performance.getEntriesByType("navigation")[0];
              return {
                first_contentful_paint_ms: paint,
                numbers_ms: mark("labfolio:analysis-numbers"),
                charts_ms: mark("labfolio:analysis-charts"),
                js_bytes: scripts.reduce((n, e) => n + (e.encodedBodySize || 0), 0),
                dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
                js_files: scripts.length,
              };
            }"""
        )
    finally:
        context.close()
    (artifacts / "analysis-timing.json").write_text(json.dumps(timings, indent=2))
    print("analysis page timing:", timings)
    assert timings["numbers_ms"] is not None and timings["charts_ms"] is not None
    assert timings["js_bytes"] <= 1_500_000, timings
    assert timings["charts_ms"] < 10_000, timings  # generous: the 1.5 s target is reported, not gated on CI noise


def log_out_ends_session(page: Any, portfolio_id: str) -> None:
    """Log out ends the session: the cookie no longer works and the app asks to log in."""
    page.click("#logout")
    page.wait_for_selector("#login-form")
    assert page.request.get("/api/auth/me").status == 401
    page.goto(f"/#/portfolios/{portfolio_id}")
    page.wait_for_selector("#login-form")


def test_bad_csv_shows_its_row_errors(page: Any, screenshots: Path, template_csv: Path) -> None:
    sign_up(page)
    portfolio_id = create_portfolio(page, "Typos", BAD_CSV)
    wait_status(page, "failed")
    problems = page.request.get(f"/api/portfolios/{portfolio_id}").json()["errors"]
    assert problems
    rows = page.locator("#row-errors tbody tr")
    assert rows.count() == len(problems)
    first = rows.first.locator("td")
    assert first.nth(0).inner_text() == str(problems[0]["row"])
    assert first.nth(2).inner_text() == problems[0]["message"]
    page.screenshot(path=screenshots / "row-errors.png", full_page=True)
    # fixed, the file goes up again from the same page and the errors go
    page.set_input_files("#reupload-file", str(template_csv))
    wait_status(page, "ready")
    assert page.get_attribute("#upload-card progress", "value") == "100"  # the upload's progress bar, filled
    page.wait_for_selector("#holdings-table")
    assert page.locator("#row-errors").count() == 0


def test_password_change_and_account_deletion(page: Any, watch: Watch) -> None:
    username = sign_up(page)
    page.goto("/#/account")
    page.fill("#f-current_password", "wrong password!")
    page.fill("#f-new_password", "another good password")
    page.click("#password-form button[type=submit]")
    page.wait_for_selector("#password-form .field-error:not(:empty), #password-form .notice.error")
    page.fill("#f-current_password", PASSWORD)
    page.click("#password-form button[type=submit]")
    page.wait_for_selector("#password-form .notice.ok")
    page.click("#logout")
    page.fill("#f-username", username)
    page.fill("#f-password", "another good password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#portfolio-table, .empty")

    page.goto("/#/account")
    page.fill("#delete-account-form #f-password", "another good password")
    page.click("#delete-account-form button[type=submit]")
    page.wait_for_selector("#signup-form")
    assert any(d.startswith("confirm:") for d in watch.dialogs)
    assert page.request.get("/api/auth/me").status == 401
    page.goto("/#/login")
    page.fill("#f-username", username)
    page.fill("#f-password", "another good password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-form .notice.error")


def test_user_data_is_text_and_other_accounts_see_nothing(
    page: Any, browser: Any, base_url: str, watch: Watch, template_csv: Path
) -> None:
    sign_up(page)
    portfolio_id = create_portfolio(page, XSS, template_csv, drop=True)
    wait_status(page, "ready")
    assert page.locator("#portfolio-name").inner_text() == XSS
    page.goto("/#/portfolios")
    link = page.locator("#portfolio-table a.pname")
    link.wait_for()
    assert link.inner_text() == XSS
    assert page.locator("#portfolio-table img").count() == 0
    # rename, then delete from the portfolio page
    page.goto(f"/#/portfolios/{portfolio_id}")
    page.click("#rename")
    page.fill("#f-rename", "Renamed <b>bold</b>")
    page.click("#rename-form button[type=submit]")
    until(page, "document.querySelector('#portfolio-name').textContent === 'Renamed <b>bold</b>'")

    other = browser.new_context(viewport={"width": 390, "height": 844}, base_url=base_url)  # and a phone width
    try:
        second = other.new_page()
        sign_up(second)
        assert second.locator("#portfolio-table").count() == 0
        assert second.request.get(f"/api/portfolios/{portfolio_id}").status == 404
        second.goto(f"/#/portfolios/{portfolio_id}")
        second.wait_for_selector("main .notice.error")
    finally:
        other.close()

    page.click("#delete")
    page.wait_for_url(re.compile(r".*#/portfolios$"))
    page.wait_for_selector(".empty")
    assert any(d.startswith("confirm:") for d in watch.dialogs)
    assert not any(d.startswith("alert:") for d in watch.dialogs), watch.dialogs


def test_factor_library(page: Any, screenshots: Path) -> None:
    factors = page.request.get("/api/factors").json()
    page.goto("/#/factors")
    page.wait_for_selector("#chart-factor-returns[data-drawn=true]")
    before = int(page.get_attribute("#chart-factor-returns", "data-points") or "0")
    assert before > 0
    assert page.locator(".factor-table tbody tr").count() == len(factors)
    # one more factor with returns in the comparison: the chart is drawn again with its points
    unchecked = page.locator(".factor-table input[type=checkbox]:not(:checked):not(:disabled)")
    if unchecked.count():
        unchecked.first.check()
        until(page, f"Number(document.querySelector('#chart-factor-returns').dataset.points) > {before}")
    for category in {f["factor_category"] for f in factors}:
        assert page.locator("h2", has_text=category).count() >= 1
    page.screenshot(path=screenshots / "factors.png", full_page=True)


# Hostile values in every place user data is shown (issue 9): the portfolio's name, the file's column names and
# cells echoed in the row errors, the analysis page's heading. The payloads either call alert() or retitle the page
# when run as markup; the page must show them as text, create no element from them, and open no dialog.
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
RENAMED = '"><svg onload=alert(2)><img src=x onerror="document.title=\'pwned\'">'
HOSTILE_CSV = (
    "ticker,quantity,<img src=x onerror=alert(3)>\n"
    "AAPL,<svg/onload=alert(4)>,\n"
    "<script>alert(5)</script>,1,\n"
    "MSFT,10,<b onmouseover=alert(6)>x</b>\n"
)


def test_hostile_names_and_cells_are_shown_as_text_and_run_nothing(
    page: Any, tmp_path: Path, template_csv: Path
) -> None:
    fired: list[str] = []
    page.on("dialog", lambda dialog: fired.append(f"{dialog.type}: {dialog.message}"))
    hostile = tmp_path / "hostile.csv"
    hostile.write_text(HOSTILE_CSV)
    sign_up(page)
    portfolio_id = create_portfolio(page, HOSTILE_NAME, hostile)
    wait_status(page, "failed")
    assert page.locator("#portfolio-name").inner_text() == HOSTILE_NAME
    # the header's column name is refused and shown as it was typed, in text
    page.wait_for_selector("#row-errors")
    errors = page.locator("#row-errors").inner_text()
    assert "<img src=x onerror=alert(3)>" in errors, errors
    assert page.locator("main [onerror], main [onload], main [onmouseover], main script").count() == 0
    # the header fixed, the cells are judged: their problems echo the values, as text
    hostile.write_text("ticker,quantity\nAAPL,<svg/onload=alert(4)>\n<script>alert(5)</script>,1\n")
    page.set_input_files("#reupload-file", str(hostile))
    until(page, "document.querySelector('#row-errors')?.innerText.includes('<svg/onload=alert(4)>')")
    assert "<SCRIPT>ALERT(5)</SC" in page.locator("#row-errors").inner_text()
    assert page.locator("main [onerror], main [onload], main script, main svg[onload]").count() == 0
    # a good file: the name on the list, the portfolio and the analysis pages is text
    page.set_input_files("#reupload-file", str(template_csv))
    wait_status(page, "ready")
    page.goto("/#/portfolios")
    page.locator("#portfolio-table a.pname").wait_for()
    assert page.locator("#portfolio-table a.pname").inner_text() == HOSTILE_NAME
    page.goto(f"/#/portfolios/{portfolio_id}")
    page.click("#rename")
    page.fill("#f-rename", RENAMED)
    page.click("#rename-form button[type=submit]")
    until(page, f"document.querySelector('#portfolio-name').textContent === {json.dumps(RENAMED)}")
    page.wait_for_selector("#analysis-form")
    page.click("#run-analysis")
    page.wait_for_url(re.compile(r".*#/analyses/[0-9a-f-]{36}$"))
    page.wait_for_selector("#chart-correlations[data-drawn=true]", timeout=90_000)
    assert page.locator(".page-head .subtitle").inner_text() == RENAMED
    assert page.locator("main [onerror], main [onload], main script").count() == 0
    assert page.title() != "pwned"
    assert fired == [], fired


def test_api_docs_list_every_operation_of_each_functions_document(page: Any, base_url: str) -> None:
    """The footer's API docs: the operations of the three functions' own OpenAPI documents (what AWS serves too)."""
    page.goto("/#/factors")
    page.wait_for_selector(".factor-table")
    page.click("footer a[href='#/api']")
    page.wait_for_selector("#api-analysis .api-table")
    for name in ("auth", "portfolios", "analysis"):
        document = _json(f"{base_url}/api/{name}/openapi.json")
        expected = sorted(
            f"{method.upper()} {path}"
            for path, item in document["paths"].items()
            for method in item
            if method in ("get", "post", "put", "patch", "delete")
        )
        rows = page.locator(f"#api-{name} .api-table tbody tr")
        shown = sorted(
            " ".join(rows.nth(i).locator("td").nth(k).inner_text().strip() for k in (0, 1)) for i in range(rows.count())
        )
        assert shown == expected, name
        assert page.locator(f"#api-{name} a[href='/api/{name}/openapi.json']").count() == 1
