// labfolio's single-page app: a hash router, the session, the navigation and the account screens.
import { api, ApiError } from "./api.js";
import { clear, h, notice, spinner } from "./dom.js";

export const session = { user: null, checked: false };
let stopCurrent = null; // the current view's cleanup (pollers, charts)

const main = () => document.getElementById("main");

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

export function onLeave(cleanup) {
  const previous = stopCurrent;
  stopCurrent = () => {
    if (previous) previous();
    cleanup();
  };
}

// A non-secret hint that a session cookie may exist (the cookie itself is HttpOnly): without it the app does not ask
// /auth/me, so a visitor's first page makes no failing request.
const HINT = "labfolio:signed-in";

async function loadSession() {
  session.user = null;
  if (localStorage.getItem(HINT)) {
    try {
      session.user = await api("/auth/me");
    } catch {
      session.user = null;
    }
  }
  if (session.user) {
    localStorage.setItem(HINT, "1");
    keepAlive(0);
  } else localStorage.removeItem(HINT);
  session.checked = true;
}

// The cookie holds a short-lived access token (≤ 1 h) of a longer session: refresh it while the app is open.
let refreshTimer = null;
function keepAlive(delaySeconds) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    if (!session.user) return;
    try {
      const issued = await api("/auth/refresh", { method: "POST" });
      keepAlive(Math.max(30, Math.floor((issued.expires_in || 3600) * 0.75)));
    } catch {
      // a 401 here ends the session in the app (the labfolio:401 event); other failures retry soon
      if (session.user) keepAlive(60);
    }
  }, delaySeconds * 1000);
}

function signedOut() {
  clearTimeout(refreshTimer);
  session.user = null;
  localStorage.removeItem(HINT);
}

function renderNav() {
  const nav = document.getElementById("nav");
  const here = location.hash || "#/";
  const link = (href, label) =>
    h("a", { href, "aria-current": here.startsWith(href) ? "page" : null }, label);
  if (session.user) {
    clear(
      nav,
      link("#/portfolios", "Portfolios"),
      link("#/factors", "Factor library"),
      link("#/account", session.user.username),
      h("button", { type: "button", class: "link", id: "logout", on: { click: logout } }, "Log out"),
    );
  } else {
    clear(nav, link("#/factors", "Factor library"), link("#/login", "Log in"), link("#/signup", "Sign up"));
  }
}

async function logout() {
  try {
    await api("/auth/logout", { method: "POST" });
  } catch {
    // the session may already be gone: the outcome is the same
  }
  signedOut();
  go("#/login");
}

const routes = [
  [/^#\/login$/, () => authView("login")],
  [/^#\/signup$/, () => authView("signup")],
  [/^#\/account$/, () => accountView(), true],
  [/^#\/portfolios$/, async (m, el) => (await import("./portfolios.js")).listView(el), true],
  [/^#\/portfolios\/([0-9a-f-]{36})$/, async (m, el) => (await import("./portfolios.js")).detailView(el, m[1]), true],
  [/^#\/analyses\/([0-9a-f-]{36})$/, async (m, el) => (await import("./analysis.js")).analysisView(el, m[1]), true],
  [/^#\/factors$/, async (m, el) => (await import("./factors.js")).factorsView(el)],
  [/^#\/api$/, async () => (await import("./apidocs.js")).apiDocsView()],
];

async function route() {
  if (stopCurrent) {
    const stop = stopCurrent;
    stopCurrent = null;
    stop();
  }
  if (!session.checked) await loadSession();
  const hash = location.hash || (session.user ? "#/portfolios" : "#/login");
  renderNav();
  // each navigation renders into a container of its own: a slower earlier view that finishes late writes nowhere
  const el = h("div", { class: "view" });
  clear(main(), el);
  for (const [pattern, view, needsSession] of routes) {
    const match = hash.match(pattern);
    if (!match) continue;
    if (needsSession && !session.user) {
      sessionStorage.setItem("labfolio:after-login", hash);
      return go("#/login");
    }
    clear(el, spinner());
    try {
      const node = await view(match, el);
      if (node instanceof Node) clear(el, node);
    } catch (error) {
      clear(el, h("h1", {}, "Something went wrong"), notice(error instanceof ApiError ? error.message : String(error)));
    }
    if (el.isConnected) {
      // the page's heading names the tab; focus moves to the new content for keyboard and screen-reader users
      const heading = el.querySelector("h1");
      document.title = heading ? `${heading.firstChild?.textContent || heading.textContent} · labfolio` : "labfolio";
      if (document.activeElement === document.body || !el.contains(document.activeElement)) {
        main().focus({ preventScroll: true });
        window.scrollTo(0, 0);
      }
    }
    return;
  }
  go(session.user ? "#/portfolios" : "#/login");
}

// ---------------------------------------------------------------- sign up / log in

function field(name, label, attrs, hint) {
  const id = `f-${name}`;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name, "aria-describedby": `${id}-error${hint ? ` ${id}-hint` : ""}`, ...attrs }),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    h("p", { class: "field-error", id: `${id}-error`, dataset: { for: name }, "aria-live": "polite" }),
  );
}

function showFieldErrors(form, errors) {
  for (const slot of form.querySelectorAll(".field-error")) {
    const messages = errors[slot.dataset.for] || [];
    slot.textContent = messages.join("; ");
    const input = form.querySelector(`[name="${slot.dataset.for}"]`);
    if (input) input.setAttribute("aria-invalid", messages.length ? "true" : "false");
  }
}

function authView(mode) {
  if (session.user) return go("#/portfolios");
  const signup = mode === "signup";
  const formError = h("div", { class: "form-error", "aria-live": "assertive" });
  const form = h(
    "form",
    { class: "card auth", novalidate: true, id: `${mode}-form` },
    h("h1", {}, signup ? "Create your account" : "Log in"),
    h(
      "p",
      { class: "muted" },
      signup
        ? "Upload a portfolio and see what drives its risk: factor betas, risk decomposition, hedges."
        : "Welcome back.",
    ),
    field(
      "username",
      "Username",
      { autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" },
      signup ? "3–64 characters: letters, digits, '.', '_' or '-'." : null,
    ),
    field(
      "password",
      "Password",
      { type: "password", autocomplete: signup ? "new-password" : "current-password", required: true },
      signup ? "At least 10 characters, not your username." : null,
    ),
    formError,
    h("button", { type: "submit", class: "primary" }, signup ? "Sign up" : "Log in"),
    h(
      "p",
      { class: "muted small" },
      signup ? "Already have an account? " : "New here? ",
      h("a", { href: signup ? "#/login" : "#/signup" }, signup ? "Log in" : "Create an account"),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    formError.replaceChildren();
    showFieldErrors(form, {});
    const body = { username: form.username.value.trim(), password: form.password.value };
    try {
      const issued = await api(`/auth/${mode}`, { method: "POST", json: body });
      localStorage.setItem(HINT, "1");
      session.user = { user_id: issued.user_id, username: issued.username };
      session.checked = true;
      keepAlive(Math.max(30, Math.floor((issued.expires_in || 3600) * 0.75)));
      const next = sessionStorage.getItem("labfolio:after-login") || "#/portfolios";
      sessionStorage.removeItem("labfolio:after-login");
      go(next);
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        const errors = error.fieldErrors();
        showFieldErrors(form, errors);
        if (!Object.keys(errors).some((k) => k === "username" || k === "password")) formError.append(notice(error.message));
      } else if (error instanceof ApiError && error.status === 409) {
        showFieldErrors(form, { username: [error.message || "This username is taken."] });
      } else {
        formError.append(notice(error.message));
      }
      button.disabled = false;
    }
  });
  return h("section", { class: "auth-page" }, form);
}

// ---------------------------------------------------------------- account

function accountView() {
  const pwError = h("div", { "aria-live": "assertive" });
  const pwForm = h(
    "form",
    { class: "card", novalidate: true, id: "password-form" },
    h("h2", {}, "Change password"),
    field("current_password", "Current password", { type: "password", autocomplete: "current-password" }),
    field("new_password", "New password", { type: "password", autocomplete: "new-password" }, "At least 10 characters."),
    pwError,
    h("button", { type: "submit", class: "primary" }, "Change password"),
  );
  pwForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    pwError.replaceChildren();
    showFieldErrors(pwForm, {});
    try {
      await api("/auth/password", {
        method: "POST",
        json: { current_password: pwForm.current_password.value, new_password: pwForm.new_password.value },
      });
      pwForm.reset();
      pwError.append(notice("Password changed. Your other sessions have ended.", "ok"));
    } catch (error) {
      if (error.status === 422) showFieldErrors(pwForm, error.fieldErrors());
      else if (error.status === 403) showFieldErrors(pwForm, { current_password: [error.message] });
      else pwError.append(notice(error.message));
    }
  });

  const delError = h("div", { "aria-live": "assertive" });
  const delForm = h(
    "form",
    { class: "card danger", novalidate: true, id: "delete-account-form" },
    h("h2", {}, "Delete account"),
    h("p", {}, "This deletes every portfolio, holding, analysis and uploaded file of the account. It cannot be undone."),
    field("password", "Password", { type: "password", autocomplete: "current-password" }),
    delError,
    h("button", { type: "submit", class: "danger" }, "Delete my account"),
  );
  delForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    delError.replaceChildren();
    if (!window.confirm("Delete your account and all of its data?")) return;
    try {
      await api("/auth/me", { method: "DELETE", json: { password: delForm.password.value } });
      signedOut();
      go("#/signup");
    } catch (error) {
      if (error.status === 422) showFieldErrors(delForm, error.fieldErrors());
      else delError.append(notice(error.message));
    }
  });

  return h(
    "section",
    { class: "narrow" },
    h("h1", {}, "Account"),
    h("p", { class: "muted" }, "Signed in as ", h("strong", {}, session.user.username)),
    pwForm,
    delForm,
  );
}

window.addEventListener("labfolio:401", () => {
  if (session.user) {
    signedOut();
    go("#/login");
  }
});
window.addEventListener("hashchange", route);
route();
