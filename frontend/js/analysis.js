// Analyses: the form that starts one (factor picker grouped by category, window, spread/raw) and the result page.
import { api, ApiError } from "./api.js";
import { go, onLeave } from "./app.js";
import { chart, disposeCharts, loadECharts } from "./charts.js";
import { clear, h, notice, spinner, table } from "./dom.js";
import { day, int, money, num, pct, when } from "./format.js";
import { statusBadge } from "./portfolios.js";

// ---------------------------------------------------------------- the form

let factorCache = null;
export async function factorLibrary() {
  factorCache ||= api("/factors").catch((error) => {
    factorCache = null;
    throw error;
  });
  return factorCache;
}

export function groupByCategory(factors) {
  const groups = new Map();
  for (const f of factors) {
    const key = f.factor_category || "Other";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(f);
  }
  return groups;
}

export async function analysisForm(portfolioId) {
  const factors = await factorLibrary();
  const defaults = new Set(
    factors.filter((f) => f.observations > 0 && ["Market", "Style"].includes(f.factor_category)).map((f) => f.factor_id),
  );
  const formError = h("div", { "aria-live": "assertive" });
  const groups = [...groupByCategory(factors)].map(([category, list]) =>
    h(
      "fieldset",
      { class: "factor-group" },
      h("legend", {}, category),
      list.map((f) => {
        const id = `factor-${f.factor_id}`;
        const noData = !(f.observations > 0);
        return h(
          "div",
          { class: `factor-option${noData ? " disabled" : ""}` },
          h("input", { type: "checkbox", id, name: "factor_ids", value: f.factor_id, checked: defaults.has(f.factor_id), disabled: noData }),
          h(
            "label",
            { for: id },
            h("strong", {}, f.factor_id),
            " ",
            f.factor_name,
            noData ? h("span", { class: "tag" }, "no data yet") : null,
            f.demo_data ? h("span", { class: "tag demo" }, "demo data") : null,
          ),
          f.factor_description ? h("p", { class: "small muted desc", title: f.factor_description }, f.factor_description) : null,
        );
      }),
    ),
  );
  const form = h(
    "form",
    { class: "card", id: "analysis-form", novalidate: true },
    h("h2", {}, "Run an analysis"),
    h("p", { class: "small muted" }, "Choose the factors to explain the portfolio with: the market and the style factors to start with. With none chosen, the server uses its defaults."),
    h("div", { class: "factor-groups" }, groups),
    h(
      "div",
      { class: "row" },
      h("div", { class: "field" }, h("label", { for: "f-start" }, "Window start"), h("input", { type: "date", id: "f-start", name: "start" }),
        h("p", { class: "field-error", dataset: { for: "start" } })),
      h("div", { class: "field" }, h("label", { for: "f-end" }, "Window end"), h("input", { type: "date", id: "f-end", name: "end" }),
        h("p", { class: "field-error", dataset: { for: "end" } })),
      h(
        "fieldset",
        { class: "field mode" },
        h("legend", {}, "Style, sector and country factors enter"),
        h("label", {}, h("input", { type: "radio", name: "factor_mode", value: "spread", checked: true }), " as spreads over the market"),
        h("label", {}, h("input", { type: "radio", name: "factor_mode", value: "raw" }), " raw"),
      ),
    ),
    h("p", { class: "small muted" }, "Default window: the last 2 years of common data."),
    h("p", { class: "field-error", dataset: { for: "factor_ids" } }),
    formError,
    h("button", { type: "submit", class: "primary", id: "run-analysis" }, "Run analysis"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.replaceChildren();
    form.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
    const ids = [...form.querySelectorAll("input[name=factor_ids]:checked")].map((i) => i.value);
    const body = { factor_mode: form.querySelector("input[name=factor_mode]:checked").value };
    if (ids.length) body.factor_ids = ids;
    if (form.start.value) body.start = form.start.value;
    if (form.end.value) body.end = form.end.value;
    try {
      const queued = await api(`/portfolios/${portfolioId}/analyses`, { method: "POST", json: body });
      go(`#/analyses/${queued.analysis_id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        const errors = error.fieldErrors();
        let shown = false;
        for (const slot of form.querySelectorAll(".field-error")) {
          const key = Object.keys(errors).find((k) => k === slot.dataset.for || k.startsWith(`${slot.dataset.for}.`));
          if (key) {
            slot.textContent = errors[key].join("; ");
            shown = true;
          }
        }
        if (!shown) formError.append(notice(error.message));
      } else formError.append(notice(error.message));
    }
  });
  return form;
}

// ---------------------------------------------------------------- the result

function card(id, label, value, sub, raw) {
  return h(
    "div",
    { class: "stat", id, dataset: { value: raw === undefined || raw === null ? "" : String(raw) } },
    h("div", { class: "stat-label" }, label),
    h("div", { class: "stat-value" }, value),
    sub ? h("div", { class: "stat-sub" }, sub) : null,
  );
}

function section(title, id, ...children) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), ...children);
}

function chartBox(id, height = 320, label = "") {
  const box = h("div", { class: "chart", id, role: "img", "aria-label": label });
  box.style.height = `${height}px`; // through the CSSOM: allowed by a CSP without 'unsafe-inline' styles
  return box;
}

const tooltipPct = (v) => pct(v, 2);

export async function analysisView(el, analysisId) {
  let stopped = false;
  let timer = null;
  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
    disposeCharts();
  });
  loadECharts().catch(() => {}); // fetch the chart library while the analysis loads
  let analysis = await api(`/analyses/${analysisId}`);
  const portfolio = await api(`/portfolios/${analysis.portfolio_id}`).catch(() => null);

  const head = h(
    "div",
    {},
    h("p", { class: "crumbs" }, h("a", { href: "#/portfolios" }, "Portfolios"), " / ",
      portfolio ? h("a", { href: `#/portfolios/${analysis.portfolio_id}` }, portfolio.portfolio_name) : "portfolio", " / "),
    h("div", { class: "page-head" }, h("h1", {}, "Factor analysis", portfolio ? h("span", { class: "subtitle" }, portfolio.portfolio_name) : null)),
  );
  const body = h("div", { id: "analysis-body" });
  clear(el, h("section", {}, head, body));

  async function wait() {
    if (stopped) return;
    if (analysis.status === "queued" || analysis.status === "running") {
      clear(body, h("div", { class: "card" }, h("p", { id: "analysis-status" }, statusBadge(analysis.status), " "), spinner(`The analysis is ${analysis.status}…`)));
      timer = setTimeout(async () => {
        try {
          analysis = await api(`/analyses/${analysisId}`);
        } catch (error) {
          return clear(body, notice(error.message));
        }
        wait();
      }, 800);
      return;
    }
    if (analysis.status === "failed") {
      clear(
        body,
        h("div", { class: "card error-card", id: "analysis-status" }, statusBadge("failed"),
          h("p", {}, analysis.error?.message || "The analysis failed."),
          analysis.error?.field ? h("p", { class: "small muted" }, `Parameter: ${analysis.error.field}`) : null,
          h("a", { href: `#/portfolios/${analysis.portfolio_id}` }, "Back to the portfolio to change the parameters")),
      );
      return;
    }
    await renderResult(body, analysis);
  }
  await wait();
  return null;
}

async function renderResult(body, analysis) {
  const r = analysis.result;
  const p = r.portfolio;
  const risk = r.risk;
  const perf = r.performance || {};
  const factorIds = r.factors.map((f) => f.factor_id);
  const modes = Object.fromEntries(r.factors.map((f) => [f.factor_id, f.mode]));
  const w = r.window;

  const meta = h(
    "div",
    { class: "meta-line" },
    statusBadge("ready"),
    w.demo_data ? h("span", { class: "badge demo", id: "demo-badge", title: "The offline provider's stale sample prices: not today's market" }, "demo data (2014–2022)") : null,
    h("span", { class: "muted" }, ` Window ${day(w.start)} → ${day(w.end)} · ${int(w.observations)} days · ${analysis.params?.factor_mode || "spread"} factors · HAC lags ${int(p.hac_lags ?? w.hac_lags)} · ${w.data_source || ""} data · finished ${when(analysis.finished_at)}`),
    h("span", { class: "spacer" }),
    h("a", { class: "button", id: "export-csv", href: `/api/analyses/${analysis.analysis_id}/export.csv` }, "Export CSV"),
    h("a", { class: "button", id: "export-json", href: `/api/analyses/${analysis.analysis_id}/export.json` }, "Export JSON"),
  );

  const cards = h(
    "div",
    { class: "stats", id: "headline" },
    card("card-nav", "NAV", money(r.nav), `gross ${money(r.gross)}`, r.nav),
    card("card-vol", "Annual volatility", pct(risk.total_vol_annual), `realised ${pct(perf.annual_vol)}`, risk.total_vol_annual),
    card("card-share", "Factor / specific risk", `${pct(risk.factor_share, 0)} / ${pct(risk.specific_share, 0)}`, "share of variance", risk.factor_share),
    card("card-r2", "R²", num(p.r_squared, 3), `adjusted ${num(p.adj_r_squared, 3)}`, p.r_squared),
    card("card-alpha", "Alpha (annual)", pct(p.alpha_annual, 2), `t = ${num(p.alpha_t, 2)} (HAC)`, p.alpha_annual),
    card("card-return", "Annual return", pct(perf.annual_return), `Sharpe ${num(perf.sharpe, 2)} · max DD ${pct(perf.max_drawdown)}`, perf.annual_return),
  );

  const betaRows = factorIds.map((f) => ({
    f,
    mode: modes[f],
    beta: p.betas[f],
    se: p.se_hac?.[f],
    t: p.t?.[f],
    p: p.p?.[f],
    ci: p.ci95?.[f] || [null, null],
    vif: r.factors.find((x) => x.factor_id === f)?.vif,
  }));

  const betasChart = chartBox("chart-betas", 60 + factorIds.length * 42, "Portfolio betas with 95% HAC confidence intervals");
  const riskStack = chartBox("chart-risk-split", 110, "Factor and specific share of risk");
  const riskFactors = chartBox("chart-risk-factors", 60 + factorIds.length * 34, "Risk contribution by factor");
  const topHoldings = Object.entries(risk.by_holding || {}).sort((a, b) => Math.abs(b[1].share) - Math.abs(a[1].share)).slice(0, 15);
  const riskHoldings = chartBox("chart-risk-holdings", 60 + topHoldings.length * 26, "Risk contribution by holding (top 15)");
  const attribution = chartBox("chart-attribution", 360, "Cumulative return attribution");
  const rolling = chartBox("chart-rolling", 320, "Rolling betas");
  const heatmap = chartBox("chart-correlations", 360, "Factor correlation heatmap");

  const after = r.risk_after_hedge || {};
  const hedgeRows = r.hedges || [];
  const dq = r.data_quality || {};

  const holdingsRows = Object.entries(r.holdings || {}).map(([ticker, x]) => ({ ticker, ...x }));

  clear(
    body,
    meta,
    cards,
    h(
      "div",
      { class: "grid-2" },
      section(
        "Factor betas",
        "betas",
        h("p", { class: "small muted" }, "Bars: the portfolio's betas; whiskers: 95% confidence intervals from Newey-West (HAC) standard errors."),
        betasChart,
        table(
          [
            { label: "Factor", value: (x) => x.f },
            { label: "Enters", value: (x) => x.mode },
            { label: "Beta", value: (x) => num(x.beta, 3), num: true },
            { label: "95% CI", value: (x) => `${num(x.ci[0], 2)} … ${num(x.ci[1], 2)}`, num: true },
            { label: "t", value: (x) => num(x.t, 2), num: true },
            { label: "VIF", value: (x) => num(x.vif, 1), num: true },
          ],
          betaRows,
          { id: "betas-table" },
        ),
      ),
      section(
        "Risk decomposition",
        "risk",
        riskStack,
        h("h3", {}, "By factor"),
        riskFactors,
        h("h3", {}, "By holding (top 15)"),
        riskHoldings,
      ),
    ),
    section(
      "Hedges",
      "hedges",
      h("p", { class: "small muted" }, "Trades that would remove each factor exposure (spread factors are hedged with the ETF against the market ETF)."),
      table(
        [
          { label: "Factor", value: (x) => x.factor_id || x.etf },
          { label: "ETF", value: (x) => x.etf },
          { label: "Notional", value: (x) => money(x.notional), num: true },
          { label: "Shares", value: (x) => num(x.shares, 1), num: true },
          { label: "Beta", value: (x) => num(x.beta, 3), num: true },
          { label: "Beta 95% CI", value: (x) => (x.beta_ci95 ? `${num(x.beta_ci95[0], 2)} … ${num(x.beta_ci95[1], 2)}` : "—"), num: true },
          { label: "Market leg", value: (x) => (x.market_leg ? `${money(x.market_leg.notional)} ${x.market_leg.etf}` : "—"), num: true },
        ],
        hedgeRows,
        { id: "hedge-table" },
      ),
      r.market_hedge
        ? h(
            "p",
            { class: "small", id: "market-hedge" },
            h("strong", {}, "Market only: "),
            `${money(r.market_hedge.notional)} of ${r.market_hedge.etf} (${num(r.market_hedge.shares, 1)} shares) for a beta of ${num(r.market_hedge.beta, 2)}`,
            r.market_hedge.beta_ci95 ? ` (95% CI ${num(r.market_hedge.beta_ci95[0], 2)} … ${num(r.market_hedge.beta_ci95[1], 2)})` : "",
            ` takes annual volatility from ${pct(r.market_hedge.vol_before_annual)} to ${pct(r.market_hedge.vol_after_annual)}.`,
          )
        : null,
      h(
        "div",
        { class: "stats small-stats", id: "after-hedge" },
        card("after-total", "Volatility after hedging", pct(after.total_vol_annual), `from ${pct(risk.total_vol_annual)}`, after.total_vol_annual),
        card("after-reduction", "Reduction", pct(after.vol_reduction), "of annual volatility", after.vol_reduction),
        card("after-realised", "Realised after hedging", pct(after.realized_vol_annual), "on the window", after.realized_vol_annual),
      ),
    ),
    section("Cumulative attribution", "attribution", h("p", { class: "small muted" }, "Each factor's contribution to the cumulative return, the specific part (alpha + residual) and the total."), attribution),
    h(
      "div",
      { class: "grid-2" },
      section("Rolling betas", "rolling", h("p", { class: "small muted" }, `${int(r.rolling_betas?.window)}-day rolling window.`), rolling),
      section("Factor correlations", "correlations", heatmap),
    ),
    section(
      "Holdings",
      "holdings",
      table(
        [
          { label: "Ticker", value: (x) => x.ticker },
          { label: "Weight", value: (x) => pct(r.weights?.[x.ticker]), num: true },
          ...factorIds.map((f) => ({ label: `β ${f}`, value: (x) => num(x.betas?.[f], 2), num: true })),
          { label: "R²", value: (x) => num(x.r_squared, 2), num: true },
          { label: "Risk share", value: (x) => pct(risk.by_holding?.[x.ticker]?.share), num: true },
        ],
        holdingsRows,
        { id: "holdings-result-table" },
      ),
    ),
    h(
      "div",
      { class: "grid-2" },
      section(
        "Performance",
        "performance",
        table(
          [
            { label: "Measure", value: (x) => x[0] },
            { label: "Value", value: (x) => x[1], num: true },
          ],
          [
            ["Annual return", pct(perf.annual_return, 2)],
            ["Cumulative return", pct(perf.cumulative_return, 2)],
            ["Annual volatility (realised)", pct(perf.annual_vol, 2)],
            ["Sharpe", num(perf.sharpe, 2)],
            ["Sortino", num(perf.sortino, 2)],
            ["Max drawdown", pct(perf.max_drawdown, 2)],
            ["VaR 95% (1 day)", pct(perf.var_95, 2)],
            ["CVaR 95% (1 day)", pct(perf.cvar_95, 2)],
            ["Risk-free rate", pct(perf.risk_free_rate, 2)],
          ],
        ),
        Object.keys(r.risk_premia || {}).length
          ? h("div", {}, h("h3", {}, "Factor risk premia on the window"), table(
              [
                { label: "Factor", value: (x) => x[0] },
                { label: "Mean (annual)", value: (x) => pct(x[1].mean_annual, 2), num: true },
                { label: "t (HAC)", value: (x) => num(x[1].t, 2), num: true },
              ],
              Object.entries(r.risk_premia),
              { id: "premia-table" },
            ))
          : null,
      ),
      section(
        "Data quality",
        "data-quality",
        h("ul", { class: "notes" },
          h("li", {}, `Window used: ${day(w.start)} to ${day(w.end)} (${int(w.observations)} daily returns), as of ${day(w.as_of)}.`),
          dq.window_requested ? h("li", {}, `Window requested: ${day(dq.window_requested.start)} to ${day(dq.window_requested.end)}.`) : null,
          h("li", {}, `Tickers used: ${(dq.used || []).join(", ") || "none"}.`),
          (dq.narrowed_by || []).length ? h("li", {}, `The window was narrowed by: ${(dq.narrowed_by || []).map((x) => (typeof x === "string" ? x : x.ticker || JSON.stringify(x))).join(", ")}.`) : null,
          w.demo_data ? h("li", {}, "Prices are the offline demo data (stale sample prices, 2014–2022): not today's market.") : null,
          (r.notes || []).map((n) => h("li", {}, n)),
          h("li", {}, `Condition number of the factors: ${num(r.condition_number, 1)}.`),
        ),
        (dq.dropped || []).length
          ? h("div", {}, h("h3", {}, "Dropped tickers"), table(
              [
                { label: "Ticker", value: (x) => x.ticker },
                { label: "Reason", value: (x) => x.reason },
              ],
              dq.dropped,
              { id: "dropped-table" },
            ))
          : h("p", { class: "small muted", id: "no-dropped" }, "No ticker was dropped."),
      ),
    ),
  );

  performance.mark("labfolio:analysis-numbers");
  await drawCharts({ r, betaRows, topHoldings, betasChart, riskStack, riskFactors, riskHoldings, attribution, rolling, heatmap });
  performance.mark("labfolio:analysis-charts");
}

async function drawCharts(x) {
  const { r, betaRows } = x;
  const axisPct = { axisLabel: { formatter: (v) => pct(v, 0) } };
  const grid = { left: 80, right: 24, top: 16, bottom: 28, containLabel: true };

  // betas with HAC confidence intervals (a custom series draws the whiskers)
  const cats = betaRows.map((b) => b.f);
  await chart(
    x.betasChart,
    {
      grid,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: cats, inverse: true },
      series: [
        { type: "bar", name: "beta", data: betaRows.map((b) => b.beta), barMaxWidth: 22, itemStyle: { opacity: 0.85 } },
        {
          type: "custom",
          name: "95% CI",
          data: betaRows.map((b, i) => [i, b.ci[0], b.ci[1]]).filter((d) => d[1] !== null && d[2] !== null),
          renderItem: (params, api) => {
            const y = api.value(0);
            const lo = api.coord([api.value(1), y]);
            const hi = api.coord([api.value(2), y]);
            const cap = 6;
            const style = { stroke: "#1d2330", lineWidth: 1.5 };
            return {
              type: "group",
              children: [
                { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style },
                { type: "line", shape: { x1: lo[0], y1: lo[1] - cap, x2: lo[0], y2: lo[1] + cap }, style },
                { type: "line", shape: { x1: hi[0], y1: hi[1] - cap, x2: hi[0], y2: hi[1] + cap }, style },
              ],
            };
          },
          encode: { x: [1, 2], y: 0 },
          z: 10,
        },
      ],
    },
    betaRows.length,
  );

  // factor vs specific (stacked)
  await chart(
    x.riskStack,
    {
      grid: { left: 10, right: 24, top: 30, bottom: 20, containLabel: true },
      legend: { top: 0 },
      tooltip: { valueFormatter: tooltipPct },
      xAxis: { type: "value", max: 1, ...axisPct },
      yAxis: { type: "category", data: ["variance"], show: false },
      series: [
        { type: "bar", stack: "risk", name: "factor", data: [r.risk.factor_share], label: { show: true, formatter: (v) => pct(v.value, 0) } },
        { type: "bar", stack: "risk", name: "specific", data: [r.risk.specific_share], label: { show: true, formatter: (v) => pct(v.value, 0) } },
      ],
    },
    2,
  );

  const byFactor = Object.entries(r.risk.by_factor || {});
  await chart(
    x.riskFactors,
    {
      grid,
      tooltip: { trigger: "axis", valueFormatter: tooltipPct },
      xAxis: { type: "value", ...axisPct },
      yAxis: { type: "category", data: byFactor.map((e) => e[0]), inverse: true },
      series: [{ type: "bar", name: "share of factor variance", data: byFactor.map((e) => e[1]), barMaxWidth: 20 }],
    },
    byFactor.length,
  );

  await chart(
    x.riskHoldings,
    {
      grid,
      tooltip: { trigger: "axis", valueFormatter: tooltipPct },
      xAxis: { type: "value", ...axisPct },
      yAxis: { type: "category", data: x.topHoldings.map((e) => e[0]), inverse: true },
      series: [{ type: "bar", name: "share of variance", data: x.topHoldings.map((e) => e[1].share), barMaxWidth: 18, itemStyle: { color: "#19a979" } }],
    },
    x.topHoldings.length,
  );

  // cumulative attribution
  const a = r.attribution || { dates: [], factor: {} };
  const lines = [
    ...Object.entries(a.factor || {}).map(([name, data]) => ({ name, data })),
    { name: "specific", data: a.specific || [], lineStyle: { type: "dashed" } },
    { name: "total", data: a.total || [], lineStyle: { width: 2.5, color: "#1d2330" }, itemStyle: { color: "#1d2330" } },
  ];
  await chart(
    x.attribution,
    {
      grid: { left: 10, right: 24, top: 40, bottom: 50, containLabel: true },
      legend: { top: 0, type: "scroll" },
      tooltip: { trigger: "axis", valueFormatter: tooltipPct },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
      xAxis: { type: "category", data: a.dates, boundaryGap: false },
      yAxis: { type: "value", ...axisPct },
      series: lines.map((l) => ({ type: "line", showSymbol: false, sampling: "lttb", ...l })),
    },
    (a.dates || []).length,
  );

  // rolling betas
  const rb = r.rolling_betas || { dates: [], betas: {} };
  await chart(
    x.rolling,
    {
      grid: { left: 10, right: 24, top: 40, bottom: 24, containLabel: true },
      legend: { top: 0, type: "scroll" },
      tooltip: { trigger: "axis", valueFormatter: (v) => num(v, 2) },
      xAxis: { type: "category", data: rb.dates, boundaryGap: false },
      yAxis: { type: "value" },
      series: Object.entries(rb.betas || {}).map(([name, data]) => ({ type: "line", name, data, showSymbol: false, sampling: "lttb" })),
    },
    (rb.dates || []).length,
  );

  // correlation heatmap
  const c = r.correlations || { ids: [], matrix: [] };
  const cells = [];
  c.matrix.forEach((row, i) => row.forEach((v, j) => cells.push([j, i, v === null ? "-" : Math.round(v * 100) / 100])));
  await chart(
    x.heatmap,
    {
      grid: { left: 10, right: 10, top: 10, bottom: 60, containLabel: true },
      tooltip: { formatter: (q) => `${c.ids[q.value[1]]} × ${c.ids[q.value[0]]}: ${num(q.value[2], 2)}` },
      xAxis: { type: "category", data: c.ids, splitArea: { show: true } },
      yAxis: { type: "category", data: c.ids, inverse: true, splitArea: { show: true } },
      visualMap: { min: -1, max: 1, calculable: true, orient: "horizontal", left: "center", bottom: 0, inRange: { color: ["#2f5bea", "#f7f7f7", "#e8743b"] } },
      series: [{ type: "heatmap", data: cells, label: { show: c.ids.length <= 10, formatter: (q) => num(q.value[2], 2) } }],
    },
    cells.length,
  );
}
