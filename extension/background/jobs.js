// Watches running jobs and errors so the badge is right even with the popup closed.
// Polls quickly (every 2 s) while something runs; an alarm restarts polling after the worker
// was stopped by Chrome.
import { t } from "../common/i18n.js";
import { parseTime } from "../common/time.js";
import { showBadge } from "./badge.js";
import { api, CompanionError } from "./companion.js";
import { getConnection } from "./connection.js";
import { describeError } from "./errors.js";
import { connectThroughHost } from "./native.js";
import { companionIsDown, noteCompanion } from "./presence.js";

const COMPANION_GONE = new Set(["COMPANION_DOWN", "COMPANION_TIMEOUT"]);

export const POLL_ALARM = "recore-poll";
const FAST_POLL_MS = 2000;
const FINISHED = new Set(["succeeded", "partial", "failed"]);
const MAX_NOTES = 20;

let timer = null;
let inFlight = null;

// storage.local keys: watchedJobs [{id, kind, pausedNoted}], jobNotes [{at, jobId, text}] (the
// latest failures of jobs started here), errorsSeenAt (ISO time the popup last showed errors).
async function readState() {
  const { watchedJobs = [], jobNotes = [], errorsSeenAt = null } = await chrome.storage.local.get([
    "watchedJobs",
    "jobNotes",
    "errorsSeenAt",
  ]);
  return { watchedJobs, jobNotes, errorsSeenAt };
}

function isUnseen(entry, seenAt) {
  return parseTime(entry?.at) > seenAt;
}

export async function ensureAlarm() {
  const existing = await chrome.alarms.get(POLL_ALARM);
  if (!existing) await chrome.alarms.create(POLL_ALARM, { periodInMinutes: 1 });
}

/** Remember a job started from this browser, so its failure is flagged even after it ends. */
export async function watchJob(id, kind) {
  const { watchedJobs } = await readState();
  if (!watchedJobs.some((job) => job.id === id)) watchedJobs.push({ id, kind, pausedNoted: false });
  await chrome.storage.local.set({ watchedJobs });
  schedule(0);
}

/** The popup was opened: everything shown there counts as seen. */
export async function markErrorsSeen() {
  await chrome.storage.local.set({ errorsSeenAt: new Date().toISOString() });
  if (inFlight) await inFlight; // a poll that started before may still count the old errors
  return pollOnce();
}

/** Failures of jobs started from this browser, newest last. */
export async function jobNotes() {
  return (await readState()).jobNotes;
}

function schedule(delayMs) {
  if (timer !== null) clearTimeout(timer);
  timer = setTimeout(() => {
    timer = null;
    pollOnce();
  }, delayMs);
}

function jobFailureText(job) {
  const failed = (job.items || []).filter((item) => item.state === "failed").length;
  const refused = (job.items || []).filter((item) => item.state === "refused").length;
  const kind = t(`jobKind_${job.kind}`);
  if (job.error) return `${kind}: ${describeJobError(job.error)}`;
  // refused by the checks: fixed in ReCORE, not retried from 生成済みリスト
  if (job.state !== "paused" && refused && !failed) return t("jobRefusedText", [kind, String(refused)]);
  if (job.state === "partial") return t("jobPartialText", [kind, String(failed)]);
  if (job.state === "paused") return t("jobPausedText", [kind]);
  return t("jobFailedText", [kind]);
}

function describeJobError(error) {
  if (typeof error === "string") return error;
  return describeError(
    new CompanionError({ code: error.code || "JOB", message: error.message, message_en: error.message_en }),
  ).text;
}

/** One poll of /status (and of watched jobs that left the running list). Never throws. */
export function pollOnce() {
  if (!inFlight) {
    inFlight = pollInner()
      .catch((err) => {
        console.warn("poll failed", err);
        return { running: 0, unseen: 0 };
      })
      .finally(() => {
        inFlight = null;
      });
  }
  return inFlight;
}

async function pollInner() {
  const conn = await getConnection();
  let running = 0;
  let lastErrors = [];
  if (conn.token) {
    try {
      const status = await api.status(conn);
      await noteCompanion(true);
      const runningJobs = status?.running_jobs ?? [];
      running = runningJobs.filter((job) => job.state !== "paused").length;
      // a register sale whose early end Yahoo refused counts like an unseen error until seen
      lastErrors = [...(status?.last_errors ?? []), ...(status?.early_end_blocked ?? [])];
      await checkWatched(conn, runningJobs);
    } catch (err) {
      // Companion stopped or token revoked: the popup explains; the badge only drops the count.
      if (!(err instanceof CompanionError)) throw err;
      if (COMPANION_GONE.has(err.code)) {
        await noteCompanion(false);
        // the native host (where registered) starts it again, unasked
        connectThroughHost({ pair: false });
      }
    }
  }
  // Read after the network calls: markErrorsSeen may have run meanwhile.
  const { jobNotes: notes, watchedJobs, errorsSeenAt } = await readState();
  const seenAt = errorsSeenAt ? parseTime(errorsSeenAt) : 0;
  const unseen = [...notes, ...lastErrors].filter((entry) => isUnseen(entry, seenAt)).length;
  await showBadge({ running, unseen, down: conn.token ? await companionIsDown() : false });
  if (running > 0 || watchedJobs.length > 0) schedule(FAST_POLL_MS);
  return { running, unseen };
}

async function checkWatched(conn, runningJobs) {
  const { watchedJobs } = await readState();
  const runningById = new Map(runningJobs.map((job) => [job.id, job]));
  const keep = [];
  const notes = [];
  for (const watched of watchedJobs) {
    let job = runningById.get(watched.id);
    if (!job) {
      try {
        job = await api.job(conn, watched.id);
      } catch (err) {
        // Forgotten by the companion (404): drop it; anything else: try again next time.
        if (!(err instanceof CompanionError && err.status === 404)) keep.push(watched);
        continue;
      }
    }
    const at = new Date().toISOString();
    if (FINISHED.has(job.state)) {
      if (job.state !== "succeeded") notes.push({ at, jobId: job.id, text: jobFailureText(job) });
      continue;
    }
    if (job.state === "paused" && !watched.pausedNoted) {
      notes.push({ at, jobId: job.id, text: jobFailureText(job) });
      keep.push({ ...watched, pausedNoted: true });
      continue;
    }
    keep.push(job.state === "paused" ? watched : { ...watched, pausedNoted: false });
  }
  const fresh = await readState();
  // Jobs added by watchJob while we were polling are kept too.
  const known = new Set(watchedJobs.map((job) => job.id));
  const added = fresh.watchedJobs.filter((job) => !known.has(job.id));
  await chrome.storage.local.set({
    watchedJobs: [...keep, ...added],
    jobNotes: [...fresh.jobNotes, ...notes].slice(-MAX_NOTES),
  });
}
