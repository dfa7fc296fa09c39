// api.js - the collector's HTTP API as the page uses it. The token lives in
// sessionStorage (this tab only, gone when it closes) and goes with every
// call as "Authorization: Bearer"; the static files need none.

const KEY = 'pw.token';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() { return sessionStorage.getItem(KEY); }
export function setToken(t) { sessionStorage.setItem(KEY, t); }
export function clearToken() { sessionStorage.removeItem(KEY); }

// GET path?params; resolves to the JSON body's data, throws ApiError.
export async function api(path, params) {
  const qs = params ? '?' + new URLSearchParams(params).toString() : '';
  let r;
  try {
    r = await fetch(path + qs, { headers: { Authorization: 'Bearer ' + (token() || '') } });
  } catch (e) {
    throw new ApiError(0, e.message);
  }
  let body = null;
  try { body = await r.json(); } catch (e) { /* an HTML 404 or an empty body */ }
  if (!r.ok || !body || body.status !== 'success')
    throw new ApiError(r.status, (body && body.error) || r.statusText || 'HTTP ' + r.status);
  return body.data;
}

// A call that changes something: method, path, a JSON body (or none);
// resolves to the answer's data, throws ApiError with the server's message.
export async function apiSend(method, path, body) {
  const headers = { Authorization: 'Bearer ' + (token() || '') };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, e.message);
  }
  let data = null;
  try { data = await r.json(); } catch (e) { /* no JSON body */ }
  if (!r.ok || !data || data.status !== 'success')
    throw new ApiError(r.status, (data && data.error) || r.statusText || 'HTTP ' + r.status);
  return data.data;
}

// Instant query: [{metric, value: [t, "v"]}] with values as numbers.
export async function query(q, time) {
  const d = await api('/api/v1/query', time ? { query: q, time } : { query: q });
  return (d.result || []).map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
}

// Range query: [{metric, values: [[t, v], ...]}] with numbers; the collector
// picks raw points or rollups by the step.
export async function queryRange(q, start, end, step) {
  const d = await api('/api/v1/query_range', { query: q, start, end, step });
  return (d.result || []).map((s) => ({
    metric: s.metric,
    values: s.values.map(([t, v]) => [Number(t), Number(v)]),
  }));
}

// A label value inside a selector: PromQL string escapes.
export function esc(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

// Who the token is and what it may do (GET /api/v1/whoami: role, tenant, name,
// actions), then the data the overview and tables start from, fetched only where
// the role allows it - no probing for 403s. A call that fails otherwise (a 503
// while the inventory is not open) leaves its part null; a 401 ends the login.
export async function session() {
  const who = await api('/api/v1/whoami');
  const may = new Set(who.actions || []);
  const get = async (action, path) => {
    if (!may.has(action)) return null;
    try {
      return await api(path);
    } catch (e) {
      if (e.status === 401) throw e;
      return null;
    }
  };
  return {
    who,
    pools: await get('read_pools', '/api/v1/pools'),
    hosts: await get('read_hosts', '/api/v1/hosts'),
    inventory: await get('read_inventory', '/api/v1/inventory'),
  };
}

// The file name in a Content-Disposition header: filename*=UTF-8''... (RFC 5987,
// what the collector sends for non-ASCII names) before the plain filename="...".
export function dispositionName(header, fallback) {
  if (!header) return fallback;
  let m = /filename\*\s*=\s*UTF-8''([^;\s]+)/i.exec(header);
  if (m) {
    try { return decodeURIComponent(m[1]); } catch (e) { /* malformed: the plain form */ }
  }
  m = /filename\s*=\s*"([^"]*)"/i.exec(header);
  return m && m[1] ? m[1] : fallback;
}

// GET a file (a report, an archived file) with the token: resolves to
// {blob, name, type}, the name from Content-Disposition (else fallback);
// throws ApiError with the message of the API's JSON error body. A plain link
// cannot carry the Authorization header, hence fetch and a blob.
export async function apiFile(path, params, fallback) {
  const qs = params ? '?' + new URLSearchParams(params).toString() : '';
  let r, blob;
  try {
    r = await fetch(path + qs, { headers: { Authorization: 'Bearer ' + (token() || '') } });
    blob = await r.blob();
  } catch (e) {
    throw new ApiError(0, e.message);
  }
  if (!r.ok) {
    let body = null;
    try { body = JSON.parse(await blob.text()); } catch (e) { /* not JSON */ }
    throw new ApiError(r.status, (body && body.error) || r.statusText || 'HTTP ' + r.status);
  }
  return { blob, name: dispositionName(r.headers.get('Content-Disposition'), fallback), type: blob.type };
}

// Save a blob as a download named name: an object URL and a link with the
// download attribute, clicked. The URL is revoked a minute later (the
// download has taken the data by then; revoking at once can cut it off).
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
