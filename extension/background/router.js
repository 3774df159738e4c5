// The one message router: every page → worker request goes through `handleMessage`.
import { CONFIRMATION_ACTIONS, MSG, SECRET_FIELDS, TABLE_NAMES } from "../common/protocol.js";
import { normalizeCompanionUrl, normalizePairingCode } from "../common/validate.js";
import { alertHandlers } from "./alerts.js";
import { api, callCompanion, CompanionError } from "./companion.js";
import { forgetPairing, getConnection, saveConnection } from "./connection.js";
import { diagnoseHandlers } from "./diagnose.js";
import { downloadBatchZip, downloadSupportBundle } from "./download.js";
import { describeError, localError } from "./errors.js";
import { jobNotes, markErrorsSeen, pollOnce, watchJob } from "./jobs.js";
import { connectThroughHost } from "./native.js";

// Nothing answers: the native host (where registered) can start the companion.
const COMPANION_GONE = new Set(["COMPANION_DOWN", "COMPANION_TIMEOUT"]);
// The pairing no longer works here (ended, a new database; an ended pairing's origin is refused
// before the proof, so it looks unverified): the host pairs anew. It hands on only a pairing the
// companion's own database holds, never one made up by a program that took the port.
const PAIRING_ENDED = new Set(["UNKNOWN_PAIRING", "UNAUTHORIZED", "COMPANION_UNVERIFIED"]);

// Settings keys the pages may send; anything else is dropped before it reaches the companion.
const SETTINGS_KEYS = new Set([
  "recore_api_url",
  "ec_account_id",
  "store_id",
  "sync_interval_minutes",
  "full_sync_interval_minutes",
  "yahoo_id",
  "business_id",
  "mail_from",
  "status_mapping",
  "direct_listing_concurrency",
  "confirmation_mode",
  "confirmation_count",
  ...SECRET_FIELDS,
]);

// A route that the companion does not have yet (older companion) must not break the popup.
async function optional(promise, fallback) {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof CompanionError && (err.status === 404 || err.status === 405)) return fallback;
    throw err;
  }
}

/** Items of a batch not listed yet (what its zip holds). */
function openCount(batch) {
  return batch.open_count ?? (batch.item_count ?? 0) - (batch.listed_count ?? 0);
}

async function requirePaired() {
  const conn = await getConnection();
  if (!conn.token) throw new CompanionError({ code: "NOT_PAIRED" });
  return conn;
}

function requireBatchId(message) {
  const id = Number(message.batchId);
  if (!Number.isSafeInteger(id) || id < 1) throw localError("NO_BATCH", "errNoBatch", "hintNoBatch");
  return id;
}

const handlers = {
  async [MSG.CONNECTION]() {
    const conn = await getConnection();
    return { companionUrl: conn.baseUrl, paired: Boolean(conn.token) };
  },

  async [MSG.POPUP_STATE]() {
    let conn = await getConnection();
    let health;
    try {
      // throws COMPANION_DOWN when it is not running, NOT_COMPANION when another program answers
      health = await api.health(conn);
    } catch (err) {
      if (!(err instanceof CompanionError) || !COMPANION_GONE.has(err.code)) throw err;
      // the native host starts the companion (and pairs, when there is no pairing yet); the
      // popup says so meanwhile
      chrome.runtime.sendMessage({ type: MSG.COMPANION_STARTING }).catch(() => {});
      const host = await connectThroughHost({ pair: !conn.token });
      // the host answered but could not help: its words (Japanese) say what happened
      if (!host.ok && host.code !== "NO_HOST") {
        throw new CompanionError({ code: host.code, message: host.message || "", baseUrl: conn.baseUrl });
      }
      if (!host.ok) throw err;
      conn = await getConnection();
      health = await api.health(conn);
    }
    if (!conn.token && (await connectThroughHost({ pair: true })).ok) {
      conn = await getConnection();
      pollOnce();
    }
    if (!conn.token) return { paired: false, companionUrl: conn.baseUrl, health };
    const load = (c) =>
      Promise.all([
        api.status(c),
        api.getSettings(c),
        optional(api.batches(c), { batches: [] }),
        optional(api.pending(c), null),
      ]);
    let loaded;
    try {
      loaded = await load(conn);
    } catch (err) {
      // the companion no longer knows this pairing (ended, or a new database): the host pairs anew
      if (!(err instanceof CompanionError) || !PAIRING_ENDED.has(err.code)) throw err;
      if (!(await connectThroughHost({ pair: true })).ok) throw err;
      conn = await getConnection();
      loaded = await load(conn);
    }
    const [status, settings, batches, pending] = loaded;
    const { errorsSeenAt } = await chrome.storage.local.get("errorsSeenAt");
    return {
      paired: true,
      companionUrl: conn.baseUrl,
      health,
      status,
      settings,
      batches: batches?.batches ?? [],
      pendingCount: pending ? (pending.items ?? []).length : (status?.counts?.pending ?? null),
      jobNotes: await jobNotes(),
      errorsSeenAt: errorsSeenAt ?? null,
    };
  },

  async [MSG.STATUS]() {
    const conn = await requirePaired();
    const status = await api.status(conn);
    return { status, jobNotes: await jobNotes() };
  },

  async [MSG.JOB](message) {
    return api.job(await requirePaired(), String(message.id ?? ""));
  },

  async [MSG.PAIR](message) {
    const url = normalizeCompanionUrl(message.companionUrl);
    if (!url.ok) throw localError("INVALID_COMPANION_URL", url.error);
    const code = normalizePairingCode(message.code);
    if (!code.ok) throw localError("INVALID_CODE", code.error);
    const target = { baseUrl: url.value, token: null };
    await api.health(target); // the code goes to the companion, not to whatever holds its port
    const reply = await api.pair(target, code.value);
    if (!reply?.token || !reply?.key_id || !reply?.proof_key) {
      throw localError("PAIRING_FAILED", "errPairingNoToken");
    }
    await saveConnection(url.value, reply);
    pollOnce();
    return { paired: true, companionUrl: url.value };
  },

  // The token ends on the companion (not only here); when the companion cannot be reached it is
  // forgotten here all the same, and ends at the next pairing.
  async [MSG.UNPAIR]() {
    const conn = await getConnection();
    let revoked = !conn.token;
    if (conn.token) {
      try {
        await api.revokeCurrent(conn);
        revoked = true;
      } catch (err) {
        if (!(err instanceof CompanionError)) throw err;
        revoked = err.code === "UNAUTHORIZED" || err.code === "UNKNOWN_PAIRING"; // ended already
      }
    }
    await forgetPairing();
    await pollOnce();
    return { paired: false, revoked };
  },

  async [MSG.LIST_PAIRINGS]() {
    return api.pairings(await requirePaired());
  },

  async [MSG.REVOKE_PAIRING](message) {
    const conn = await requirePaired();
    const id = Number(message.id);
    if (!Number.isSafeInteger(id) || id < 1) throw localError("NO_PAIRING", "errNoPairing");
    const { pairings = [] } = await api.pairings(conn);
    if (pairings.some((p) => p.id === id && p.current)) return handlers[MSG.UNPAIR]();
    await api.revokePairing(conn, id);
    return { paired: true, revoked: true };
  },

  async [MSG.GET_SETTINGS]() {
    return api.getSettings(await requirePaired());
  },

  async [MSG.PUT_SETTINGS](message) {
    const patch = {};
    for (const [key, value] of Object.entries(message.patch ?? {})) {
      if (SETTINGS_KEYS.has(key)) patch[key] = value;
    }
    return api.putSettings(await requirePaired(), patch);
  },

  async [MSG.LIST_BATCHES]() {
    return api.batches(await requirePaired());
  },

  async [MSG.LIST_PENDING]() {
    return api.pending(await requirePaired());
  },

  async [MSG.DOWNLOAD](message) {
    const conn = await requirePaired();
    let batch;
    if (message.source === "pending") {
      batch = await api.createBatch(conn, { source: "pending" });
    } else {
      batch = await api.batch(conn, requireBatchId(message));
    }
    if (!batch || openCount(batch) <= 0) return { batch, download: null };
    const download = await downloadBatchZip(conn, batch.id);
    return { batch, download };
  },

  async [MSG.DIRECT_LISTING](message) {
    const conn = await requirePaired();
    const reply =
      message.source === "pending"
        ? await api.directListingPending(conn)
        : await api.directListingBatch(conn, requireBatchId(message));
    await watchJob(reply.job_id, "direct_listing");
    return {
      jobId: reply.job_id,
      batchId: reply.batch_id ?? message.batchId ?? null,
      // what goes ahead, and what the checks refused (管理番号, field, rule), said at the press
      itemCount: reply.item_count ?? null,
      refused: reply.refused ?? [],
    };
  },

  // The listings in エラー behind the counts line's number, most recent first.
  async [MSG.LIST_ERRORS]() {
    return callCompanion(await requirePaired(), "GET", "/errors");
  },

  // 出品開始: start a batch's items registered in a 競りナビ folder (a bulk upload that registers)
  async [MSG.START_REGISTERED](message) {
    const conn = await requirePaired();
    const id = encodeURIComponent(requireBatchId(message));
    const reply = await callCompanion(conn, "POST", `/batches/${id}/start`, { body: {} });
    await watchJob(reply.job_id, "direct_listing");
    return { jobId: reply.job_id, batchId: reply.batch_id ?? message.batchId ?? null };
  },

  // 確認モード: 実行 (approve) or スキップ (skip) of one write; the answer is the list as it is now
  async [MSG.DECIDE_CONFIRMATION](message) {
    const conn = await requirePaired();
    const id = Number(message.id);
    if (!Number.isSafeInteger(id) || id < 1 || !CONFIRMATION_ACTIONS.includes(message.action)) {
      throw localError("NO_CONFIRMATION", "errNoConfirmation");
    }
    const reply = await callCompanion(conn, "POST", `/confirmations/${id}/${message.action}`, { body: {} });
    return { confirmations: reply.confirmations };
  },

  async [MSG.SYNC]() {
    const conn = await requirePaired();
    const reply = await api.sync(conn);
    await watchJob(reply.job_id, "sync");
    return { jobId: reply.job_id };
  },

  // The tables, the listings held for them (情報不足) and the tasks kept as unknown.
  async [MSG.GET_TABLES]() {
    const conn = await requirePaired();
    const [tables, pending, status] = await Promise.all([api.tables(conn), api.pending(conn), api.status(conn)]);
    return {
      tables: tables.tables,
      choices: tables.choices,
      held: pending?.held ?? [],
      unknownTasks: status?.recore?.unknown_tasks ?? [],
    };
  },

  async [MSG.PUT_TABLE](message) {
    const name = String(message.name ?? "");
    if (!TABLE_NAMES.includes(name)) throw localError("UNKNOWN_TABLE", "errUnknownMessage", "", [name]);
    return api.putTable(await requirePaired(), name, message.table);
  },

  async [MSG.MARK_SEEN]() {
    return markErrorsSeen();
  },

  // Poll now (after pairing, or when a page wants the badge current): {running, unseen}.
  async [MSG.REFRESH_BADGE]() {
    return pollOnce();
  },

  async [MSG.SUPPORT_BUNDLE]() {
    return downloadSupportBundle(await requirePaired());
  },

  // the options page's 通知 and 履歴 (alerts.js)
  ...alertHandlers,

  // the options page's 接続診断 (diagnose.js)
  ...diagnoseHandlers,
};

/** Answer one message. Never rejects: failures become {ok: false, error}. */
export async function handleMessage(message) {
  const handler = message && Object.hasOwn(handlers, message.type) ? handlers[message.type] : null;
  if (!handler) {
    return {
      ok: false,
      error: describeError(localError("UNKNOWN_MESSAGE", "errUnknownMessage", "", [String(message?.type)])),
    };
  }
  try {
    return { ok: true, data: await handler(message) };
  } catch (err) {
    const conn = await getConnection().catch(() => null);
    if (!(err instanceof CompanionError) && !err?.text) console.error("handler failed", message.type, err);
    return { ok: false, error: describeError(err, conn) };
  }
}
