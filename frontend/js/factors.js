// The factor library: every factor by category, and cumulative returns of the selected ones.
import { factorLibrary, groupByCategory } from "./analysis.js";
import { api } from "./api.js";
import { onLeave } from "./app.js";
import { chart, disposeCharts } from "./charts.js";
import { clear, h, notice, table } from "./dom.js";
import { day, int, when } from "./format.js";

export async function factorsView(el) {
  onLeave(disposeCharts);
  const factors = await factorLibrary();
  const withData = factors.filter((f) => f.observations > 0);
  const selected = new Set(withData.slice(0, 4).map((f) => f.factor_id));
  const chartBox = h("div", { class: "chart", id: "chart-factor-returns", role: "img", "aria-label": "Cumulative returns of the selected factors" });
  chartBox.style.height = "360px";
  const chartNote = h("div", { "aria-live": "polite" });
  const cache = new Map();

  async function draw() {
    disposeCharts();
    const ids = [...selected];
    if (!ids.length) {
      chartBox.dataset.points = "0";
      return clear(chartNote, h("p", { class: "muted" }, "Select factors with data to compare their cumulative returns."));
    }
    clear(chartNote);
    try {
      const series = await Promise.all(
        ids.map(async (id) => {
          if (!cache.has(id)) cache.set(id, api(`/factors/${encodeURIComponent(id)}/returns`));
          const found = await cache.get(id);
          let level = 1;
          return { id, data: found.returns.map((x) => [x.date, (level *= 1 + x.return_value) - 1]) };
        }),
      );
      await chart(
        chartBox,
        {
          grid: { left: 10, right: 24, top: 40, bottom: 50, containLabel: true },
          legend: { top: 0, type: "scroll" },
          tooltip: { trigger: "axis", valueFormatter: (v) => `${(v * 100).toFixed(1)}%` },
          dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
          xAxis: { type: "time" },
          yAxis: { type: "value", axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } },
          series: series.map((s) => ({ type: "line", name: s.id, data: s.data, showSymbol: false, sampling: "lttb" })),
        },
        series.reduce((n, s) => n + s.data.length, 0),
      );
    } catch (error) {
      clear(chartNote, notice(error.message));
    }
  }

  const groups = [...groupByCategory(factors)].map(([category, list]) =>
    h(
      "section",
      { class: "card" },
      h("h2", {}, category),
      table(
        [
          {
            label: "Compare",
            value: (f) =>
              h("input", {
                type: "checkbox",
                "aria-label": `Compare ${f.factor_id}`,
                checked: selected.has(f.factor_id),
                disabled: !(f.observations > 0),
                on: {
                  change: (e) => {
                    if (e.target.checked) selected.add(f.factor_id);
                    else selected.delete(f.factor_id);
                    draw();
                  },
                },
              }),
          },
          { label: "Factor", value: (f) => h("span", {}, h("strong", {}, f.factor_id), h("br"), h("span", { class: "small muted" }, f.factor_name)) },
          { label: "Description", value: (f) => h("span", { class: "small" }, f.factor_description || "—") },
          { label: "Enters", value: (f) => f.entry },
          { label: "History", value: (f) => (f.first_date ? `${day(f.first_date)} → ${day(f.last_date)}` : "no data yet") },
          { label: "Days", value: (f) => int(f.observations), num: true },
          {
            label: "Updated",
            value: (f) => h("span", {}, when(f.last_updated), f.demo_data ? h("span", { class: "tag demo" }, "demo data") : null),
          },
        ],
        list,
        { class: "factor-table" },
      ),
    ),
  );

  clear(
    el,
    h(
      "section",
      {},
      h("div", { class: "page-head" }, h("h1", {}, "Factor library")),
      h("p", { class: "muted" }, `${factors.length} factors in ${groupByCategory(factors).size} categories; ${withData.length} with returns.`),
      withData.some((f) => f.demo_data)
        ? h("p", { class: "notice warn" }, h("span", { class: "badge demo" }, "demo data (2014–2022)"), " Factors marked demo data have the offline sample prices, not today's market.")
        : null,
      h("section", { class: "card" }, h("h2", {}, "Cumulative returns"), chartNote, chartBox),
      groups,
    ),
  );
  await draw();
  return null;
}
