// The labfolio API on the same origin: the HttpOnly session cookie authenticates, and every state-changing request
// carries X-Requested-With (the CSRF rule). Nothing is kept in localStorage.

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.code = body && body.error;
    this.detail = body && body.detail;
  }

  // Problems of a 422 by field ("body.username" → "username").
  fieldErrors() {
    const out = {};
    if (Array.isArray(this.detail)) {
      for (const problem of this.detail) {
        if (!problem || typeof problem.field !== "string") continue;
        const name = problem.field.split(".").slice(1).join(".") || problem.field;
        (out[name] ||= []).push(problem.message);
      }
    }
    return out;
  }
}

function describe(status, body) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) return body.detail.map((p) => p.message || String(p)).join("; ");
  if (status === 0) return "The server could not be reached.";
  return `The request failed (HTTP ${status}).`;
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
// 401s that are answers, not an ended session: a wrong login, and the session check at start
const QUIET_401 = new Set(["/auth/login", "/auth/signup", "/auth/me"]);

export async function api(path, { method = "GET", json, body, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json", ...headers } };
  if (UNSAFE.has(method)) init.headers["X-Requested-With"] = "XMLHttpRequest";
  if (json !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(`/api${path}`, init);
  } catch {
    throw new ApiError(0, null);
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) {
    if (response.status === 401 && !QUIET_401.has(path)) window.dispatchEvent(new CustomEvent("labfolio:401"));
    throw new ApiError(response.status, typeof data === "object" ? data : null);
  }
  return data;
}

// The presigned POST straight to S3 (fields first, then the file), with upload progress. Listening to the upload's
// progress makes the browser ask the bucket first (a CORS preflight), which only the configured frontend origin
// passes; if the request cannot even be made (a page opened as http://localhost rather than the configured
// http://127.0.0.1, say), the file is sent once more as a simple form POST, without progress, whose answer the page
// cannot read: the portfolio's status then tells whether it arrived.
export async function uploadToS3(form, file, onProgress) {
  try {
    await uploadWithProgress(form, file, onProgress);
  } catch (error) {
    if (!error.network) throw error;
    await fetch(form.url, { method: "POST", body: formData(form, file), mode: "no-cors", credentials: "omit" }).catch(() => {
      throw new Error("The upload failed: the storage service was not reached.");
    });
    onProgress(1);
  }
}

function formData(form, file) {
  const data = new FormData();
  for (const [key, value] of Object.entries(form.fields)) data.append(key, value);
  data.append("file", file, file.name);
  return data;
}

function uploadWithProgress(form, file, onProgress) {
  return new Promise((resolve, reject) => {
    const data = formData(form, file);
    const request = new XMLHttpRequest();
    request.open("POST", form.url);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve();
      } else {
        reject(new Error(`The storage service refused the file (HTTP ${request.status}).`));
      }
    });
    request.addEventListener("error", () => {
      const error = new Error("The upload failed: the storage service was not reached.");
      error.network = true;
      reject(error);
    });
    request.send(data);
  });
}
