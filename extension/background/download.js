// Saves a batch's upload zip through chrome.downloads.
//
// Chrome's download manager fetches the zip itself, with the bearer token as an extra header:
// the file streams to disk (no blob in memory, no data: URL size limit in the worker, where
// URL.createObjectURL does not exist), and the file name is the server's ASCII name from
// Content-Disposition.
import { api, CompanionError, ensureVerified } from "./companion.js";
import { localError } from "./errors.js";

const WAIT_LIMIT_MS = 120000;

/** Start the download and wait until it completes (or fails, or takes longer than the limit). */
export async function downloadBatchZip(conn, batchId) {
  const url = api.batchZipUrl(conn, batchId);
  await ensureVerified(conn); // the token goes in a header: only to the proven companion
  const downloadId = await chrome.downloads.download({
    url,
    headers: [{ name: "Authorization", value: `Bearer ${conn.token}` }],
    conflictAction: "uniquify",
    saveAs: false,
  });
  const item = await waitForDownload(downloadId);
  if (item.state === "interrupted") await explainInterrupted(conn, batchId, item);
  return {
    downloadId,
    state: item.state,
    filename: item.filename ? item.filename.split(/[\\/]/).pop() : "",
  };
}

export function waitForDownload(downloadId) {
  return new Promise((resolve) => {
    let done = false;
    const finish = async () => {
      if (done) return;
      done = true;
      chrome.downloads.onChanged.removeListener(onChanged);
      clearTimeout(limit);
      const [item] = await chrome.downloads.search({ id: downloadId });
      resolve(item ?? { state: "interrupted", error: "MISSING" });
    };
    const onChanged = (delta) => {
      if (delta.id !== downloadId || !delta.state) return;
      if (delta.state.current === "complete" || delta.state.current === "interrupted") finish();
    };
    chrome.downloads.onChanged.addListener(onChanged);
    const limit = setTimeout(finish, WAIT_LIMIT_MS);
    // It may have finished before the listener was added.
    chrome.downloads.search({ id: downloadId }).then(([item]) => {
      if (item && item.state !== "in_progress") finish();
    });
  });
}

// The download manager only says SERVER_BAD_CONTENT and the like; ask the companion why.
async function explainInterrupted(conn, batchId, item) {
  try {
    await ensureVerified(conn);
    const response = await fetch(api.batchZipUrl(conn, batchId), {
      headers: { Authorization: `Bearer ${conn.token}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      const error = data?.error ?? {};
      throw new CompanionError({
        code: error.code || `HTTP_${response.status}`,
        message: error.message || "",
        message_en: error.message_en || `HTTP ${response.status}`,
        status: response.status,
      });
    }
    await response.body?.cancel();
  } catch (err) {
    if (err instanceof CompanionError) throw err;
  }
  throw localError("DOWNLOAD_FAILED", "errDownloadFailed", "hintDownloadFailed", [item.error || "?"]);
}
