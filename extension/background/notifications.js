// Chrome notifications for what staff must hear without opening the popup: a job paused or
// finished with failures, an early end refused because of bids, messages to ReCORE stuck, and
// (when chosen on the options page) each 落札 and 入金.
//
// The companion's feed (/notifications?after=ID) gives the history entries of the kinds chosen
// for Chrome. The last id seen is kept in chrome.storage.local (notifyCursor), and the ids shown
// with where a click leads (notified): each entry is shown once, on the next poll and after a
// restart of the worker or of Chrome. A browser paired for the first time starts from now.
import { pickServerText, t } from "../common/i18n.js";
import { callCompanion, CompanionError } from "./companion.js";
import { getConnection } from "./connection.js";

const ID_PREFIX = "recore-history-";
const FEED_LIMIT = 20; // the companion's page size
const KEEP_SHOWN = 100;
// Kinds that wait in the notification centre until staff act on them.
const STICKY = new Set(["job_paused", "early_end_blocked", "recore_stuck"]);
// Kinds whose place is the popup (resume a job, see the outbox); the rest open the history.
const TO_POPUP = new Set(["job_paused", "recore_stuck"]);

let inFlight = null;

/** Where a click on the notification for `entry` leads (a page of this extension). */
export function targetOf(entry) {
  if (TO_POPUP.has(entry.kind)) return "popup.html";
  const query = new URLSearchParams();
  if (entry.management_number) query.set("mn", entry.management_number);
  else if (entry.job_id) query.set("job", entry.job_id);
  else query.set("kind", entry.kind);
  return `options.html#history?${query}`;
}

function kindLabel(entry) {
  const key = `historyKind_${entry.kind}`;
  const label = t(key);
  return label === key ? entry.kind_label : label;
}

function notificationOf(entry) {
  const lines = [];
  if (entry.management_number) lines.push(t("notifyNumber", [entry.management_number]));
  if (entry.auction_id) lines.push(t("notifyAuction", [entry.auction_id]));
  return {
    type: "basic",
    iconUrl: chrome.runtime.getURL("icons/icon128.png"),
    title: t("notifyTitle", [kindLabel(entry)]),
    message: pickServerText(entry),
    contextMessage: lines.join(" / "),
    priority: STICKY.has(entry.kind) ? 2 : 0,
    requireInteraction: STICKY.has(entry.kind),
  };
}

/** One look at the feed; shows what is new. Never throws. Resolves {shown: n}. */
export function pollNotifications() {
  if (!inFlight) {
    inFlight = pollInner()
      .catch((err) => {
        console.warn("notification poll failed", err);
        return { shown: 0 };
      })
      .finally(() => {
        inFlight = null;
      });
  }
  return inFlight;
}

async function pollInner() {
  const conn = await getConnection();
  if (!conn.token) return { shown: 0 };
  const stored = await chrome.storage.local.get(["notifyCursor", "notified", "notifyFor"]);
  // another companion has another history: start from its now
  const same = stored.notifyFor === conn.baseUrl;
  const notifyCursor = same ? (stored.notifyCursor ?? null) : null;
  const notified = same ? (stored.notified ?? {}) : {};
  const path = notifyCursor === null ? "/notifications" : `/notifications?after=${notifyCursor}`;
  let feed;
  try {
    feed = await callCompanion(conn, "GET", path);
  } catch (err) {
    if (err instanceof CompanionError) return { shown: 0 }; // the popup says why
    throw err;
  }
  const entries = feed?.entries ?? [];
  let cursor = notifyCursor ?? 0;
  let shown = 0;
  for (const entry of entries) {
    cursor = Math.max(cursor, entry.id);
    const id = ID_PREFIX + entry.id;
    if (Object.hasOwn(notified, id)) continue;
    notified[id] = targetOf(entry);
    // stored before it is shown: a worker stopped in between loses one, never doubles one
    await chrome.storage.local.set({ notified });
    await chrome.notifications.create(id, notificationOf(entry));
    shown += 1;
  }
  // everything up to latest_id was looked at when the page was not full
  if (notifyCursor === null || entries.length < FEED_LIMIT) cursor = Math.max(cursor, feed?.latest_id ?? 0);
  const keep = Object.fromEntries(Object.entries(notified).slice(-KEEP_SHOWN));
  await chrome.storage.local.set({ notifyCursor: cursor, notified: keep, notifyFor: conn.baseUrl });
  return { shown };
}

/** A click: open where the entry is dealt with, and take the notification away. */
export async function openNotification(notificationId) {
  if (!notificationId.startsWith(ID_PREFIX)) return;
  const { notified = {} } = await chrome.storage.local.get("notified");
  const target = notified[notificationId] ?? "options.html#history";
  await chrome.notifications.clear(notificationId);
  if (target === "popup.html") {
    try {
      await chrome.action.openPopup();
      return;
    } catch {
      // no focused window to hang the popup on: the same page in a tab
    }
  }
  await chrome.tabs.create({ url: chrome.runtime.getURL(target) });
}
