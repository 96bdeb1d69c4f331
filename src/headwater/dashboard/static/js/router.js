// Hash routing inside the one page: "#/insights/trend?start=...", "#/people/<id>", "#/live" ...
// The overview keeps its own "#start=..&end=..&tz=.." (no leading slash), as before pages existed.
// A page's whole state is its hash's query: one parameter per field, lists and objects as JSON.

// Characters left as they are in a hash (readable links); everything else is percent-encoded.
// "+" stays encoded: URLSearchParams would read it as a space.
const KEEP = /%(5B|5D|7B|7D|3A|2C|2F|40|24|21|27|28|29|2A|3B)/g;

export function encodeValue(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return encodeURIComponent(text).replace(KEEP, (m) => decodeURIComponent(m));
}

// params: {name: value}; null, undefined and "" are left out; objects and arrays become JSON.
export function query(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "" || value === false) continue;
    parts.push(encodeURIComponent(key) + "=" + encodeValue(value === true ? "true" : value));
  }
  return parts.join("&");
}

export function hashFor(path, params = {}) {
  const q = query(params);
  return "#" + path + (q ? "?" + q : "");
}

// The route of a hash: {path: "/people/u1", parts: ["people", "u1"], params: URLSearchParams, overview}
export function parse(hash = window.location.hash) {
  const raw = hash.replace(/^#/, "");
  if (!raw.startsWith("/")) return { path: "/", parts: [], params: new URLSearchParams(raw), overview: true };
  const at = raw.indexOf("?");
  const path = at < 0 ? raw : raw.slice(0, at);
  const parts = path.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const params = new URLSearchParams(at < 0 ? "" : raw.slice(at + 1));
  return { path, parts, params, overview: parts.length === 0 };
}

// A JSON parameter, or the fallback when it is absent or not JSON.
export function jsonParam(params, name, fallback) {
  const text = params.get(name);
  if (text === null || text === "") return fallback;
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

export function intParam(params, name, fallback) {
  const n = Number.parseInt(params.get(name) ?? "", 10);
  return Number.isFinite(n) ? n : fallback;
}

export function boolParam(params, name) {
  return ["true", "1", "yes"].includes(params.get(name) ?? "");
}
