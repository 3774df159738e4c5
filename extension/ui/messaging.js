// Pages talk to the service worker only through this.
import { FULL_SYNC_INTERVALS, SYNC_INTERVALS } from "../common/protocol.js";
import { parseTime } from "../common/time.js";

/**
 * Send one request to the worker. Resolves with `data`; rejects with the worker's error object
 * ({code, text, hint, fields}) so callers can show text and hint.
 */
export async function ask(type, payload = {}) {
  let reply;
  try {
    reply = await chrome.runtime.sendMessage({ type, ...payload });
  } catch (err) {
    throw { code: "WORKER_UNAVAILABLE", text: String(err?.message || err), hint: "", fields: null };
  }
  if (!reply) throw { code: "NO_REPLY", text: "No reply from the service worker", hint: "", fields: null };
  if (!reply.ok) throw reply.error;
  return reply.data;
}

/** Make an element's text: "<text>" plus an optional hint line. */
export function showError(textEl, hintEl, error) {
  textEl.textContent = error?.text ?? String(error);
  if (hintEl) hintEl.textContent = error?.hint ?? "";
}

/** Local date-time for an ISO string, "—" when absent. */
export function formatTime(iso, lang) {
  if (!iso) return "—";
  const date = new Date(parseTime(iso));
  if (Number.isNaN(date.getTime())) return "—";
  return date.toLocaleString(lang === "ja" ? "ja-JP" : "en-US", {
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/**
 * Fill every `<select data-intervals="sync|full">` under `root` with the intervals the companion
 * accepts, labelled by `interval<N>` (run before `localize`, which writes the labels).
 */
export function fillIntervals(root = document) {
  const lists = { sync: SYNC_INTERVALS, full: FULL_SYNC_INTERVALS };
  for (const select of root.querySelectorAll("select[data-intervals]")) {
    for (const minutes of lists[select.dataset.intervals] ?? []) {
      const option = document.createElement("option");
      option.value = String(minutes);
      option.dataset.i18n = `interval${minutes}`;
      select.append(option);
    }
  }
}
