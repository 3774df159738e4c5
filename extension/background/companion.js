// The companion's HTTP client: plain fetch, bearer token, JSON in and out.
import { API_PREFIX } from "../common/protocol.js";

/** A failed companion call. `code` is the companion's error code or one of ours (COMPANION_*). */
export class CompanionError extends Error {
  constructor({
    code,
    message = "",
    message_en = "",
    fields = null,
    fields_en = null,
    status = 0,
    baseUrl = "",
    batch = null,
  }) {
    super(message_en || message || code);
    this.code = code;
    this.serverMessage = message;
    this.serverMessageEn = message_en;
    this.fields = fields; // {field: Japanese rule}
    this.fieldsEn = fields_en; // {field: English rule}, when the companion sends them
    this.status = status;
    this.baseUrl = baseUrl; // the address that did not answer (COMPANION_DOWN)
    this.batch = batch; // a batch built before the refusal (NOTHING_VALID: its errors say why)
  }
}

const DEFAULT_TIMEOUT_MS = 15000;

/**
 * One request to the companion. Resolves with the parsed JSON body (null when empty).
 * @param {{baseUrl: string, token: string|null}} conn
 * @param {string} method
 * @param {string} path  below /api/v1, e.g. "/status"
 * @param {{body?: unknown, auth?: boolean, timeoutMs?: number}} [options]
 */
export async function callCompanion(conn, method, path, options = {}) {
  const { body, auth = true, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  const headers = { Accept: "application/json" };
  if (auth) {
    if (!conn.token) throw new CompanionError({ code: "NOT_PAIRED" });
    headers.Authorization = `Bearer ${conn.token}`;
  }
  if (body !== undefined) headers["Content-Type"] = "application/json; charset=utf-8";

  let response;
  try {
    response = await fetch(conn.baseUrl + API_PREFIX + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (err) {
    // fetch rejects with TypeError when nothing listens on the port, with TimeoutError on timeout.
    const code = err?.name === "TimeoutError" ? "COMPANION_TIMEOUT" : "COMPANION_DOWN";
    throw new CompanionError({ code, message_en: String(err?.message || err), baseUrl: conn.baseUrl });
  }

  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new CompanionError({
      code: error.code || `HTTP_${response.status}`,
      message: error.message || "",
      message_en: error.message_en || `HTTP ${response.status}`,
      fields: error.fields || null,
      fields_en: error.fields_en || null,
      status: response.status,
      batch: data?.batch ?? null,
    });
  }
  return data;
}

export const api = {
  health: (conn) => callCompanion(conn, "GET", "/health", { auth: false, timeoutMs: 5000 }),
  pair: (conn, code) => callCompanion(conn, "POST", "/pair", { auth: false, body: { code } }),
  getSettings: (conn) => callCompanion(conn, "GET", "/settings"),
  putSettings: (conn, patch) => callCompanion(conn, "PUT", "/settings", { body: patch }),
  status: (conn) => callCompanion(conn, "GET", "/status"),
  job: (conn, id) => callCompanion(conn, "GET", `/jobs/${encodeURIComponent(id)}`),
  pending: (conn) => callCompanion(conn, "GET", "/pending"),
  batches: (conn) => callCompanion(conn, "GET", "/batches"),
  batch: (conn, id) => callCompanion(conn, "GET", `/batches/${encodeURIComponent(id)}`),
  // Building a batch validates every pending item and may take a while on a big shop.
  createBatch: (conn, body) => callCompanion(conn, "POST", "/batches", { body, timeoutMs: 120000 }),
  batchZipUrl: (conn, id) => `${conn.baseUrl}${API_PREFIX}/batches/${encodeURIComponent(id)}/zip`,
  directListingBatch: (conn, id) =>
    callCompanion(conn, "POST", `/batches/${encodeURIComponent(id)}/direct-listing`, { body: {} }),
  directListingPending: (conn) =>
    callCompanion(conn, "POST", "/direct-listing", { body: { source: "pending" }, timeoutMs: 120000 }),
  sync: (conn) => callCompanion(conn, "POST", "/sync", { body: {} }),
  tables: (conn) => callCompanion(conn, "GET", "/tables"),
  // Saving a listing table re-checks every held listing: allow it time on a big shop.
  putTable: (conn, name, table) =>
    callCompanion(conn, "PUT", `/tables/${encodeURIComponent(name)}`, { body: table, timeoutMs: 60000 }),
};
