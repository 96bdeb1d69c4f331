// The admin API, called with the login cookie. A 401 sends the browser back to the login form.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function getJSON(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  return answer(await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }));
}

// The session's CSRF token (the page carries it; another site cannot read it): every request that
// changes something sends it back, with the session cookie.
const CSRF = document.querySelector('meta[name="csrf-token"]')?.content || "";

export async function postJSON(path, body) {
  return sendJSON("POST", path, body);
}

// A change (POST, PUT, DELETE): the session cookie and the CSRF header.
export async function sendJSON(method, path, body = undefined) {
  const headers = { Accept: "application/json", "X-CSRF-Token": CSRF };
  const init = { method, credentials: "same-origin", headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return answer(await fetch(new URL(path, window.location.origin), init));
}

async function answer(response) {
  if (response.status === 401) {
    window.location.assign("/dashboard/login");
    throw new ApiError(401, "unauthorized", "signed out");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = (body && body.error) || {};
    throw new ApiError(response.status, error.code || "http_" + response.status, error.message || response.statusText);
  }
  return body;
}

// Metric queries made in the same turn of the event loop go to the server in one request
// (POST /api/v1/dashboard/metrics), which answers each exactly as GET /api/v1/metrics/NAME would.
// The request leaves as soon as the turn ends (a microtask), before other work queued after it.
let pending = [];

async function flush() {
  const batch = pending;
  pending = [];
  try {
    const body = await postJSON("/api/v1/dashboard/metrics", { queries: batch.map((b) => b.query) });
    body.results.forEach((result, i) => {
      if (result.error) batch[i].reject(new ApiError(result.status, result.error.code, result.error.message));
      else batch[i].resolve(result);
    });
  } catch (err) {
    for (const b of batch) b.reject(err);
  }
}

export function metric(name, params) {
  const { start, end, tz, ...rest } = params;
  const options = {};
  for (const [key, value] of Object.entries(rest)) if (value !== null && value !== undefined && value !== "") options[key] = String(value);
  return new Promise((resolve, reject) => {
    if (!pending.length) queueMicrotask(flush);
    pending.push({ query: { name, start, end, tz, options }, resolve, reject });
  });
}
