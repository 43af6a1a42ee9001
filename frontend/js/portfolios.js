// Portfolios: the list, creating one with its file, a portfolio's page (status by polling, row errors, holdings,
// rename, delete, re-upload) and starting an analysis.
import { api, ApiError, uploadToS3 } from "./api.js";
import { go, onLeave } from "./app.js";
import { clear, h, notice, spinner, table } from "./dom.js";
import { day, int, money, num, pct, when } from "./format.js";

const STATUS_LABEL = {
  awaiting_upload: "awaiting file",
  processing: "processing",
  ready: "ready",
  failed: "failed",
  queued: "queued",
  running: "running",
};

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, dataset: { status } }, STATUS_LABEL[status] || status);
}

const TEMPLATE = "/api/portfolios/template.csv";
const MAX_BYTES = 1_000_000;

// A drop zone + file picker; calls onFile(file) with a checked file.
function dropZone(onFile, { id = "file", label = "Drop a CSV file here, or choose one" } = {}) {
  const input = h("input", { type: "file", id, name: "file", accept: ".csv,text/csv", class: "visually-hidden" });
  const chosen = h("span", { class: "chosen muted" }, "No file chosen");
  const zone = h(
    "div",
    { class: "dropzone", dataset: { testid: "dropzone" } },
    h("span", { class: "drop-icon", "aria-hidden": "true" }, "⇪"),
    h("label", { for: id, class: "drop-label" }, label),
    input,
    chosen,
  );
  const take = (file) => {
    if (!file) return;
    chosen.textContent = `${file.name} · ${int(file.size)} bytes`;
    onFile(file);
  };
  input.addEventListener("change", () => take(input.files[0]));
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    take(e.dataTransfer.files[0]);
  });
  return zone;
}

function progressBar() {
  const bar = h("progress", { max: 100, value: 0, "aria-label": "Upload progress" });
  const text = h("span", { class: "small muted" });
  const wrap = h("div", { class: "progress", hidden: true }, bar, text);
  wrap.set = (fraction) => {
    wrap.hidden = false;
    bar.value = Math.round(fraction * 100);
    text.textContent = `${Math.round(fraction * 100)}% uploaded`;
  };
  return wrap;
}

function checkFile(file) {
  if (!file) return "Choose a CSV file first.";
  if (file.size > MAX_BYTES) return `The file is ${int(file.size)} bytes: the limit is ${int(MAX_BYTES)}.`;
  if (file.size === 0) return "The file is empty.";
  return null;
}

// ---------------------------------------------------------------- the list

export async function listView(el) {
  const page = await api("/portfolios?limit=100");
  let file = null;
  const formError = h("div", { "aria-live": "assertive" });
  const progress = progressBar();
  const nameError = h("p", { class: "field-error", id: "f-portfolio_name-error", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card create", id: "create-portfolio", novalidate: true },
    h("h2", {}, "New portfolio"),
    h(
      "div",
      { class: "field" },
      h("label", { for: "f-portfolio_name" }, "Name"),
      h("input", {
        id: "f-portfolio_name",
        name: "portfolio_name",
        required: true,
        maxlength: 255,
        placeholder: "e.g. Retirement account",
        "aria-describedby": "f-portfolio_name-error",
      }),
      nameError,
    ),
    dropZone((f) => (file = f), { id: "create-file" }),
    h(
      "p",
      { class: "small muted" },
      "Columns: ticker and quantity (or weight), optional price. ",
      h("a", { href: TEMPLATE, download: "labfolio-template.csv", id: "template-link" }, "Download the template"),
      ".",
    ),
    progress,
    formError,
    h("button", { type: "submit", class: "primary" }, "Create and upload"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.replaceChildren();
    nameError.textContent = "";
    const problem = checkFile(file);
    if (problem) return formError.append(notice(problem));
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const created = await api("/portfolios", { method: "POST", json: { portfolio_name: form.portfolio_name.value } });
      await uploadToS3(created.upload, file, progress.set);
      sessionStorage.setItem(`labfolio:uploaded:${created.portfolio_id}`, String(Date.now()));
      go(`#/portfolios/${created.portfolio_id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        nameError.textContent = error.fieldErrors().portfolio_name?.join("; ") || error.message;
      } else formError.append(notice(error.message));
      button.disabled = false;
    }
  });

  const items = page.items;
  const lastAnalysed = new Map();
  const statusCells = new Map();
  const list = items.length
    ? table(
        [
          { label: "Name", value: (p) => h("a", { href: `#/portfolios/${p.portfolio_id}`, class: "pname" }, p.portfolio_name) },
          { label: "Holdings", value: (p) => int(p.holdings_count), num: true },
          {
            label: "Status",
            value: (p) => {
              const cell = h("span", {}, statusBadge(p.status));
              statusCells.set(p.portfolio_id, { cell, status: p.status });
              return cell;
            },
          },
          {
            label: "Last analysed",
            value: (p) => {
              const cell = h("span", { class: "muted" }, "—");
              lastAnalysed.set(p.portfolio_id, cell);
              return cell;
            },
          },
          { label: "Updated", value: (p) => when(p.updated_at) },
        ],
        items,
        { id: "portfolio-table" },
      )
    : h(
        "div",
        { class: "empty" },
        h("p", {}, "No portfolios yet."),
        h("p", { class: "muted" }, "Create one with the form: a CSV of tickers and quantities. Not sure of the format? ",
          h("a", { href: TEMPLATE }, "Start from the template"), "."),
      );

  // last analysed: one small request per ready portfolio, after the page is drawn
  for (const p of items.filter((x) => x.status === "ready")) {
    api(`/portfolios/${p.portfolio_id}/analyses?limit=5`)
      .then((found) => {
        const done = found.items.find((a) => a.status === "ready");
        const cell = lastAnalysed.get(p.portfolio_id);
        if (done && cell) clear(cell, h("a", { href: `#/analyses/${done.analysis_id}` }, when(done.finished_at)));
      })
      .catch(() => {});
  }

  // live status: while a file is being processed, the list asks again every 2 s
  let timer = null;
  let stopped = false;
  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });
  const busy = () => [...statusCells.values()].some((x) => x.status === "processing");
  async function refresh() {
    if (stopped) return;
    try {
      const fresh = await api("/portfolios?limit=100");
      for (const p of fresh.items) {
        const known = statusCells.get(p.portfolio_id);
        if (known && known.status !== p.status) {
          known.status = p.status;
          clear(known.cell, statusBadge(p.status));
        }
      }
    } catch {
      // the next navigation shows the error; the list stays as it was
    }
    if (busy() && !stopped) timer = setTimeout(refresh, 2000);
  }
  if (busy()) timer = setTimeout(refresh, 2000);

  return h(
    "section",
    {},
    h("div", { class: "page-head" }, h("h1", {}, "Portfolios"), h("a", { href: TEMPLATE, class: "button" }, "Template CSV")),
    h("div", { class: "grid-2" }, h("div", { class: "card" }, h("h2", {}, "Your portfolios"), list), form),
  );
}

// ---------------------------------------------------------------- one portfolio

function problemsTable(problems, id) {
  return table(
    [
      { label: "Row", value: (p) => (p.row === null || p.row === undefined ? "file" : String(p.row)), num: true },
      { label: "Column", value: (p) => (p.column === "*" ? "(whole row)" : p.column) },
      { label: "Problem", value: (p) => p.message },
    ],
    problems,
    { id, class: "problems" },
  );
}

export async function detailView(el, id) {
  let portfolio = await api(`/portfolios/${id}`);
  let timer = null;
  let stopped = false;
  let uploadedAt = Number(sessionStorage.getItem(`labfolio:uploaded:${id}`) || 0);
  let previousUpload = null; // last_upload.at before a re-upload: until it changes, the new file is not seen yet
  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });

  const title = h("h1", { id: "portfolio-name" }, portfolio.portfolio_name);
  const statusSlot = h("div", { class: "status-line", id: "portfolio-status", "aria-live": "polite" });
  const problemsSlot = h("div", { id: "portfolio-problems" });
  const holdingsSlot = h("div", { id: "holdings", class: "card" });
  const analysesSlot = h("div", { id: "analyses" });
  const uploadProgress = progressBar();
  const uploadError = h("div", { "aria-live": "assertive" });
  const pageError = h("div", { "aria-live": "assertive" });

  // rename
  const renameInput = h("input", { id: "f-rename", name: "portfolio_name", maxlength: 255, "aria-describedby": "f-rename-error" });
  const renameError = h("p", { class: "field-error", id: "f-rename-error" });
  const renameForm = h(
    "form",
    { class: "inline", id: "rename-form", hidden: true, novalidate: true },
    h("label", { for: "f-rename" }, "New name"),
    renameInput,
    h("button", { type: "submit", class: "primary" }, "Save"),
    h("button", { type: "button", on: { click: () => (renameForm.hidden = true) } }, "Cancel"),
    renameError,
  );
  renameForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    renameError.textContent = "";
    try {
      portfolio = await api(`/portfolios/${id}`, { method: "PATCH", json: { portfolio_name: renameInput.value } });
      title.textContent = portfolio.portfolio_name;
      renameForm.hidden = true;
    } catch (error) {
      renameError.textContent = error.fieldErrors?.().portfolio_name?.join("; ") || error.message;
    }
  });

  const actions = h(
    "div",
    { class: "actions" },
    h("button", {
      type: "button",
      id: "rename",
      on: {
        click: () => {
          renameInput.value = portfolio.portfolio_name;
          renameForm.hidden = false;
          renameInput.focus();
        },
      },
    }, "Rename"),
    h("a", { class: "button", href: `/api/portfolios/${id}/file`, id: "download-csv" }, "Download CSV"),
    h("button", {
      type: "button",
      class: "danger",
      id: "delete",
      on: {
        click: async () => {
          if (!window.confirm(`Delete the portfolio “${portfolio.portfolio_name}” and its files?`)) return;
          try {
            await api(`/portfolios/${id}`, { method: "DELETE" });
            go("#/portfolios");
          } catch (error) {
            pageError.replaceChildren(notice(error.message));
          }
        },
      },
    }, "Delete"),
  );

  const reupload = dropZone(
    async (file) => {
      uploadError.replaceChildren();
      const problem = checkFile(file);
      if (problem) return uploadError.append(notice(problem));
      try {
        const form = await api(`/portfolios/${id}/upload`, { method: "POST" });
        previousUpload = portfolio.last_upload?.at || "";
        await uploadToS3(form, file, uploadProgress.set);
        uploadedAt = Date.now();
        portfolio = { ...portfolio, status: "processing" };
        draw();
        poll(true);
      } catch (error) {
        uploadError.append(notice(error.message));
      }
    },
    { id: "reupload-file", label: "Upload a new file: drop a CSV here, or choose one" },
  );

  // a file just sent that the API has not reported yet (for at most a minute)
  function newFilePending() {
    if (Date.now() - uploadedAt > 60_000) return false;
    if (portfolio.status === "awaiting_upload") return true;
    return previousUpload !== null && (portfolio.last_upload?.at || "") === previousUpload;
  }

  function draw() {
    const p = portfolio;
    const processing = p.status === "processing" || newFilePending();
    clear(
      statusSlot,
      statusBadge(p.status),
      processing ? h("span", { class: "spin", "aria-hidden": "true" }) : null,
      h("span", { class: "muted" }, ` ${int(p.holdings_count)} holdings${p.kind ? ` (by ${p.kind})` : ""} · updated ${when(p.updated_at)}`),
    );
    const last = p.last_upload;
    const errors = p.errors.length ? p.errors : last && last.status === "failed" ? last.errors : [];
    const warnings = p.warnings.length ? p.warnings : [];
    clear(
      problemsSlot,
      errors.length
        ? h("div", { class: "card error-card" },
            h("h2", {}, "The file could not be used"),
            h("p", {}, "Fix these rows in your spreadsheet and upload the file again (rows are numbered as a spreadsheet shows them, the header is row 1)."),
            problemsTable(errors, "row-errors"))
        : null,
      last && last.status === "failed" && p.status === "ready"
        ? h("p", { class: "notice warn" }, "The last file was rejected: the holdings below are from the file before it.")
        : null,
      warnings.length ? h("div", { class: "card" }, h("h2", {}, "Notes on the holdings"), problemsTable(warnings, "row-warnings")) : null,
    );
  }

  async function drawHoldings() {
    holdingsSlot.hidden = portfolio.status !== "ready";
    if (portfolio.status !== "ready") return clear(holdingsSlot);
    let holdings;
    try {
      holdings = await api(`/portfolios/${id}/holdings`);
    } catch (error) {
      return clear(holdingsSlot, notice(error.message));
    }
    clear(
      holdingsSlot,
      h("h2", {}, "Holdings"),
      table(
        [
          { label: "Ticker", value: (x) => x.ticker },
          { label: "Quantity", value: (x) => num(x.quantity, 0), num: true },
          { label: "Last price", value: (x) => money(x.last_price, 2), num: true },
          { label: "Market value", value: (x) => money(x.market_value), num: true },
          { label: "Weight", value: (x) => pct(x.weight), num: true },
          { label: "Price date", value: (x) => day(x.price_date) },
        ],
        holdings,
        { id: "holdings-table" },
      ),
    );
  }

  let analysesTimer = null;
  onLeave(() => clearTimeout(analysesTimer));

  function analysesTable(rows) {
    const latest = rows.find((a) => a.status === "ready");
    return h(
      "div",
      {},
      latest
        ? h("p", {}, h("a", { class: "button primary-link", id: "latest-analysis", href: `#/analyses/${latest.analysis_id}` }, "View the latest analysis →"))
        : null,
      rows.length
        ? table(
            [
              { label: "Started", value: (a) => h("a", { href: `#/analyses/${a.analysis_id}` }, when(a.created_at)) },
              { label: "Status", value: (a) => statusBadge(a.status) },
              { label: "Factors", value: (a) => (a.params?.factor_ids || []).join(", ") || "defaults" },
              { label: "Mode", value: (a) => a.params?.factor_mode || "—" },
              { label: "Trigger", value: (a) => (a.trigger === "upload" ? "after upload" : "on request") },
            ],
            rows,
            { id: "analyses-table" },
          )
        : h("p", { class: "muted" }, "No analysis yet."),
    );
  }

  // the list of analyses, refreshed while one is queued or running (the upload's own analysis, say)
  async function refreshAnalyses(listSlot) {
    clearTimeout(analysesTimer);
    if (stopped) return;
    try {
      const found = await api(`/portfolios/${id}/analyses?limit=20`);
      clear(listSlot, analysesTable(found.items));
      if (found.items.some((a) => a.status === "queued" || a.status === "running")) {
        analysesTimer = setTimeout(() => refreshAnalyses(listSlot), 1000);
      }
    } catch (error) {
      clear(listSlot, notice(`Analyses are not available: ${error.message}`));
    }
  }

  async function drawAnalyses() {
    if (portfolio.status !== "ready") return clear(analysesSlot);
    const listSlot = h("div", { id: "analyses-list", "aria-live": "polite" });
    clear(analysesSlot, h("div", { class: "card" }, h("h2", {}, "Analyses"), listSlot));
    await refreshAnalyses(listSlot);
    try {
      const { analysisForm } = await import("./analysis.js");
      analysesSlot.append(await analysisForm(id));
    } catch (error) {
      analysesSlot.append(notice(`The factor library is not available: ${error.message}`));
    }
  }

  async function poll(force = false) {
    if (stopped) return;
    try {
      const fresh = await api(`/portfolios/${id}`);
      const changed = fresh.status !== portfolio.status || fresh.updated_at !== portfolio.updated_at;
      portfolio = fresh;
      draw();
      if (changed || force) {
        await drawHoldings();
        await drawAnalyses();
      }
      pageError.replaceChildren();
    } catch (error) {
      pageError.replaceChildren(notice(error.message));
    }
    const waiting = portfolio.status === "processing" || portfolio.last_upload?.status === "processing" || newFilePending();
    if (waiting && !stopped) timer = setTimeout(poll, 1000);
  }

  const view = h(
    "section",
    {},
    h("p", { class: "crumbs" }, h("a", { href: "#/portfolios" }, "Portfolios"), " / "),
    h("div", { class: "page-head" }, title, actions),
    renameForm,
    statusSlot,
    pageError,
    problemsSlot,
    holdingsSlot,
    analysesSlot,
    h("div", { class: "card", id: "upload-card" }, h("h2", {}, "Upload a file"), reupload, uploadProgress, uploadError,
      h("p", { class: "small muted" }, h("a", { href: TEMPLATE }, "Download the template"), " · at most 1 MB, CSV · replaces the holdings once it is accepted")),
  );
  clear(el, view);
  draw();
  await drawHoldings();
  await drawAnalyses();
  poll();
  return null;
}
