// The API reference: every operation of each function's own OpenAPI document (the documents API Gateway serves in
// AWS too — the merged /api/docs page exists only on the local stack), with links to the documents themselves.
import { api } from "./api.js";
import { h, table } from "./dom.js";

const FUNCTIONS = [
  ["auth", "Accounts and sessions"],
  ["portfolios", "Portfolios, holdings and uploads"],
  ["analysis", "Factor library and analyses"],
];
const METHODS = ["get", "post", "put", "patch", "delete"];

export async function apiDocsView() {
  const documents = await Promise.all(FUNCTIONS.map(([name]) => api(`/${name}/openapi.json`)));
  const sections = FUNCTIONS.map(([name, title], i) => {
    const operations = [];
    for (const [path, item] of Object.entries(documents[i].paths || {})) {
      for (const method of METHODS) {
        if (item[method]) operations.push({ method: method.toUpperCase(), path, summary: item[method].summary || "" });
      }
    }
    const url = `/api/${name}/openapi.json`;
    return h(
      "section",
      { class: "api-function", id: `api-${name}` },
      h("h2", {}, title),
      h("p", {}, "OpenAPI document: ", h("a", { href: url }, url)),
      table(
        [
          { label: "Method", value: (op) => h("code", {}, op.method) },
          { label: "Path", value: (op) => h("code", {}, op.path) },
          { label: "What it does", value: (op) => op.summary },
        ],
        operations,
        { class: "api-table" },
      ),
    );
  });
  return h(
    "div",
    {},
    h("h1", {}, "API reference"),
    h(
      "p",
      {},
      "Everything under /api. Send the session token as Authorization: Bearer <token>, or use the session cookie ",
      "with X-Requested-With: XMLHttpRequest on requests that change something. Errors have one body: ",
      h("code", {}, '{"error": "<code>", "detail": ...}'),
      ".",
    ),
    sections,
  );
}
