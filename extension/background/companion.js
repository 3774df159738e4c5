// The companion's HTTP client: plain fetch, bearer token, JSON in and out.
//
// Nothing secret (the token, a password typed on the options page) leaves before whatever answers
// on the companion's address has proven that it is the companion this extension paired with: it
// must answer a fresh random challenge with an HMAC under the key pairing gave, bound to the
// address the extension asked (so a program elsewhere cannot pass the challenge on to the real
// companion and hand back its answer). Requests that start together share one proof.
import { API_PREFIX, PROOF_CONTEXT } from "../common/protocol.js";

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
    await ensureVerified(conn);
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

// ---- the companion's proof ---------------------------------------------------------------------

function toBase64Url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const base64 = String(text).replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** host:port as the companion sees its own socket (the extension only uses 127.0.0.1). */
function addressOf(baseUrl) {
  const url = new URL(baseUrl);
  return `${url.hostname}:${url.port || "80"}`;
}

/**
 * Ask whatever answers at conn.baseUrl to prove it is the paired companion. Throws CompanionError:
 * COMPANION_DOWN / COMPANION_TIMEOUT (nothing answers), UNKNOWN_PAIRING (the companion ended this
 * pairing), COMPANION_UNVERIFIED (something answers, but not with the proof).
 */
export async function verifyCompanion(conn) {
  if (!conn.keyId || !conn.proofKey) throw new CompanionError({ code: "NOT_PAIRED" });
  const challenge = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  let reply;
  try {
    reply = await callCompanion(conn, "POST", "/prove", {
      auth: false,
      body: { key_id: conn.keyId, challenge },
      timeoutMs: 5000,
    });
  } catch (err) {
    const passOn = ["COMPANION_DOWN", "COMPANION_TIMEOUT", "UNKNOWN_PAIRING"];
    if (err instanceof CompanionError && passOn.includes(err.code)) throw err;
    throw new CompanionError({ code: "COMPANION_UNVERIFIED", baseUrl: conn.baseUrl, status: err?.status ?? 0 });
  }
  let proven = false;
  try {
    const key = await crypto.subtle.importKey(
      "raw",
      fromBase64Url(conn.proofKey),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    const message = new TextEncoder().encode(`${PROOF_CONTEXT}\n${challenge}\n${addressOf(conn.baseUrl)}`);
    proven = await crypto.subtle.verify("HMAC", key, fromBase64Url(reply?.proof ?? ""), message);
  } catch {
    proven = false; // not base64, not a string: not a proof
  }
  if (!proven) throw new CompanionError({ code: "COMPANION_UNVERIFIED", baseUrl: conn.baseUrl });
}

const proofsInFlight = new Map();

/** One proof for the requests that start while it runs; every later request asks anew. */
export function ensureVerified(conn) {
  const key = `${conn.baseUrl} ${conn.keyId}`;
  let proof = proofsInFlight.get(key);
  if (!proof) {
    proof = verifyCompanion(conn).finally(() => proofsInFlight.delete(key));
    proofsInFlight.set(key, proof);
  }
  return proof;
}

export const api = {
  health: (conn) => callCompanion(conn, "GET", "/health", { auth: false, timeoutMs: 5000 }),
  pair: (conn, code) => callCompanion(conn, "POST", "/pair", { auth: false, body: { code } }),
  pairings: (conn) => callCompanion(conn, "GET", "/pairings"),
  revokeCurrent: (conn) => callCompanion(conn, "DELETE", "/pairings/current"),
  revokePairing: (conn, id) => callCompanion(conn, "DELETE", `/pairings/${encodeURIComponent(id)}`),
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
