// Input normalisation shared by the options page (before sending) and the worker.
// Each function returns {ok: true, value} or {ok: false, error: "<i18n key>"}.

import { COMPANION_HOST } from "./protocol.js";

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost"]);

function parseUrl(raw) {
  const text = String(raw ?? "").trim();
  if (!text) return { error: "errUrlRequired" };
  let url;
  try {
    url = new URL(text);
  } catch {
    return { error: "errUrlInvalid" };
  }
  if (url.username || url.password || url.search || url.hash) return { error: "errUrlInvalid" };
  return { url };
}

function withoutTrailingSlash(url) {
  return (url.origin + url.pathname).replace(/\/+$/, "");
}

/**
 * ReCORE API URL: trimmed, https required (http only for a sandbox on 127.0.0.1 / localhost),
 * no trailing slash.
 */
export function normalizeApiUrl(raw) {
  const { url, error } = parseUrl(raw);
  if (error) return { ok: false, error };
  const local = LOCAL_HOSTS.has(url.hostname);
  if (url.protocol === "https:" || (url.protocol === "http:" && local)) {
    return { ok: true, value: withoutTrailingSlash(url) };
  }
  if (url.protocol === "http:") return { ok: false, error: "errUrlHttps" };
  return { ok: false, error: "errUrlInvalid" };
}

/**
 * Companion address: http on 127.0.0.1 (the extension may reach nothing else). `localhost` as typed
 * by staff becomes 127.0.0.1: the name may resolve to ::1 first, where another program could answer.
 */
export function normalizeCompanionUrl(raw) {
  const { url, error } = parseUrl(raw);
  if (error) return { ok: false, error };
  if (url.protocol !== "http:" || !LOCAL_HOSTS.has(url.hostname)) {
    return { ok: false, error: "errCompanionUrl" };
  }
  if (url.pathname !== "/") return { ok: false, error: "errCompanionUrl" };
  url.hostname = COMPANION_HOST;
  return { ok: true, value: url.origin };
}

/** Optional positive integer id ("" → null). */
export function parseOptionalId(raw, { required = false } = {}) {
  const text = String(raw ?? "").trim();
  if (!text) return required ? { ok: false, error: "errRequired" } : { ok: true, value: null };
  if (!/^[0-9]+$/.test(text)) return { ok: false, error: "errPositiveInt" };
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) return { ok: false, error: "errPositiveInt" };
  return { ok: true, value };
}

/** Pairing code: digits only, at least 6 (spaces and hyphens typed by staff are dropped). */
export function normalizePairingCode(raw) {
  const text = String(raw ?? "").replace(/[\s-]/g, "");
  // Full-width digits (IME) → ASCII.
  const ascii = text.replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));
  if (!/^[0-9]{6,}$/.test(ascii)) return { ok: false, error: "errPairingCode" };
  return { ok: true, value: ascii };
}
