// The caller's token, kept for this browser tab's session only, and the API called with it.
// What the page shows is what the API answers this token: roles read here only decide
// which controls to offer, never what data to show.

const KEY = "jobledger.token";

/** A sign-in link's token (`/#token=...`): a fragment never reaches a server or its logs. */
function takeFragmentToken() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
  history.replaceState(null, "", location.pathname + location.search);
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signIn(value) {
  sessionStorage.setItem(KEY, value.trim());
}

/** Back to the sign-in page, saying why, and then back here. */
export function signOut(reason = "") {
  sessionStorage.removeItem(KEY);
  const query = new URLSearchParams({ next: location.pathname + location.search });
  if (reason) query.set("reason", reason);
  location.assign(`/sign-in?${query}`);
}

/** The signed-in caller, or a redirect to sign in. */
export function requireCaller() {
  takeFragmentToken();
  const value = token();
  if (!value) {
    signOut();
    return null;
  }
  const claims = decodeClaims(value);
  if (!claims) {
    signOut("that is not a JWT");
    return null;
  }
  const roles = new Set(Array.isArray(claims.roles) ? claims.roles : [claims.roles]);
  const caller = { subject: claims.sub, tenant: claims.tenant, roles };
  caller.hasAny = (names) => names.some((name) => roles.has(name));
  return caller;
}

function decodeClaims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
  } catch {
    return null;
  }
}

/** The server's rules, stated once in Python and carried on <body> as data attributes. */
export function rules() {
  const data = document.body.dataset;
  const words = (name) => (data[name] || "").split(" ").filter(Boolean);
  return {
    readers: words("readers"),
    cancellers: words("cancellers"),
    submitters: words("submitters"),
    statuses: words("statuses"),
    terminal: new Set(words("terminal")),
    cancellable: new Set(words("cancellable")),
    types: words("types"),
  };
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || `the API answered ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function authorization() {
  return { Authorization: `Bearer ${token()}` };
}

/** A JSON call to the API; a refused token (401) signs out with the API's reason. */
export async function api(path, { method = "GET", body } = {}) {
  if (!token()) return new Promise(() => {}); // signed out, the page is leaving: ask nothing
  const headers = authorization();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.ok) return response.json();
  const problem = await response.json().catch(() => ({}));
  if (response.status === 401) {
    signOut(problem.detail || "the token was refused");
    return new Promise(() => {}); // the page is leaving for the sign-in: nothing to do
  }
  throw new ApiError(response.status, problem);
}

/** The header every page shares: who is signed in, sign out, the current page marked. */
export function frame(caller, current) {
  document.getElementById("who").textContent =
    `${caller.subject} · ${caller.tenant} · ${[...caller.roles].join(", ")}`;
  document.getElementById("sign-out").addEventListener("click", () => signOut());
  const link = document.querySelector(`[data-nav="${current}"]`);
  if (link) link.setAttribute("aria-current", "page");
  // The overview holds the tenant's figures: offered only to roles that may read them.
  document.querySelector('[data-nav="overview"]').hidden = !caller.hasAny(rules().readers);
}
