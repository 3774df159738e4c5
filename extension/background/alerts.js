// Page → worker requests of the options page's 通知 and 履歴 sections.
import { API_PREFIX, MSG } from "../common/protocol.js";
import { callCompanion, CompanionError, ensureVerified } from "./companion.js";
import { getConnection } from "./connection.js";
import { waitForDownload } from "./download.js";
import { localError } from "./errors.js";
import { pollNotifications } from "./notifications.js";

const CHANNELS = new Set(["email", "chatwork", "line"]);
const FILTERS = ["from", "to", "management_number", "kind", "result", "job_id"];

async function paired() {
  const conn = await getConnection();
  if (!conn.token) throw new CompanionError({ code: "NOT_PAIRED" });
  return conn;
}

/** Only the known filters, as the companion's query string. */
function historyQuery(filters = {}) {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const value = filters[name];
    if (typeof value === "string" && value.trim() !== "") query.set(name, value.trim());
  }
  return query;
}

export const alertHandlers = {
  async [MSG.GET_ALERTS]() {
    return callCompanion(await paired(), "GET", "/alerts");
  },

  async [MSG.PUT_ALERTS](message) {
    const patch = message.patch && typeof message.patch === "object" ? message.patch : {};
    return callCompanion(await paired(), "PUT", "/alerts", { body: patch });
  },

  async [MSG.TEST_ALERT](message) {
    const channel = String(message.channel ?? "");
    if (!CHANNELS.has(channel)) throw localError("UNKNOWN_CHANNEL", "errUnknownChannel");
    return callCompanion(await paired(), "POST", "/alerts/test", { body: { channel }, timeoutMs: 60000 });
  },

  async [MSG.HISTORY](message) {
    const query = historyQuery(message.filters);
    query.set("limit", String(Math.min(Math.max(Number(message.limit) || 200, 1), 500)));
    return callCompanion(await paired(), "GET", `/history?${query}`);
  },

  // 「CSVで保存」: Chrome's download manager fetches it with the token, into the downloads folder.
  async [MSG.HISTORY_CSV](message) {
    const conn = await paired();
    const query = historyQuery(message.filters);
    query.set("format", "csv");
    const url = `${conn.baseUrl}${API_PREFIX}/history?${query}`;
    await ensureVerified(conn); // the token goes in a header: only to the proven companion
    const downloadId = await chrome.downloads.download({
      url,
      headers: [{ name: "Authorization", value: `Bearer ${conn.token}` }],
      conflictAction: "uniquify",
      saveAs: false,
    });
    const item = await waitForDownload(downloadId);
    if (item.state !== "complete") {
      throw localError("DOWNLOAD_FAILED", "errDownloadFailed", "hintDownloadFailed", [item.error || "?"]);
    }
    return { downloadId, filename: item.filename ? item.filename.split(/[\\/]/).pop() : "" };
  },

  async [MSG.POLL_NOTIFICATIONS]() {
    return pollNotifications();
  },
};
