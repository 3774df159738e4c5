// The toolbar popup: choose a source, download / list directly / sync, watch progress and errors.
import { localize, pickServerText, t, uiLang } from "../common/i18n.js";
import { MSG } from "../common/protocol.js";
import { parseTime } from "../common/time.js";
import { ask, fillIntervals, formatTime } from "../ui/messaging.js";
import { renderBlocked } from "./blocked.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 1500;
const FINISHED = new Set(["succeeded", "partial", "failed"]);
// Results waiting for ReCORE longer than this are worth a line (a few seconds' wait is normal).
const OUTBOX_AGE_SHOWN_S = 300;
// Codes after which only the options page (pairing) helps.
const PAIRING_CODES = new Set(["NOT_PAIRED", "UNAUTHORIZED", "ORIGIN_NOT_ALLOWED", "UNKNOWN_PAIRING"]);
const CONN_STATES = {
  COMPANION_DOWN: "down",
  COMPANION_TIMEOUT: "down",
  COMPANION_NOT_STARTED: "down",
  COMPANION_UNVERIFIED: "unverified",
  NOT_COMPANION: "foreign",
  EXTENSION_OUTDATED: "outdated",
  COMPANION_OUTDATED: "outdated",
};

let state = null;
let refreshTimer = null;
let busy = false;
let newestShownError = null; // time of the newest error rendered so far (ms); null before load
// Jobs started from this popup, kept on screen after they finish: id → last Job object.
const startedJobs = new Map();

function el(tag, { text = "", className = "" } = {}, children = []) {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  for (const child of children) node.append(child);
  return node;
}

function setConnState(kind) {
  const pill = $("conn-state");
  pill.textContent = t(`conn_${kind}`);
  pill.dataset.state = kind;
}

function showNotice(error, { options = false } = {}) {
  stopRefresh();
  $("loading").hidden = true;
  $("main").hidden = true;
  $("notice").hidden = false;
  $("notice-text").textContent = error.text ?? String(error);
  $("notice-hint").textContent = error.hint ?? "";
  $("open-options").hidden = !options;
  setConnState(CONN_STATES[error.code] ?? "unpaired");
}

// The worker is having the native host start the companion: say so while the popup waits.
chrome.runtime.onMessage.addListener((message) => {
  if (message?.type === MSG.COMPANION_STARTING && !$("loading").hidden) {
    $("loading").textContent = t("companionStarting");
  }
});

async function load() {
  delete document.body.dataset.ready;
  try {
    await loadInner();
  } finally {
    document.body.dataset.ready = "true"; // lets tests (and people) know the popup finished loading
  }
}

async function loadInner() {
  $("loading").textContent = t("loading");
  $("loading").hidden = false;
  try {
    state = await ask(MSG.POPUP_STATE);
  } catch (error) {
    showNotice(error, { options: PAIRING_CODES.has(error.code) });
    return;
  }
  if (!state.paired) {
    showNotice({ code: "NOT_PAIRED", text: t("notPairedText"), hint: t("notPairedHint") }, { options: true });
    return;
  }
  $("loading").hidden = true;
  $("notice").hidden = true;
  $("main").hidden = false;
  setConnState("ok");
  renderSource();
  renderInterval(state.settings);
  renderStatus(state.status, state.jobNotes);
  // Whatever is on screen now has been seen: the badge's "!" goes.
  ask(MSG.MARK_SEEN).catch(() => {});
  startRefresh();
}

// ---- source: 新規の出品待ち / 生成済みリスト -------------------------------------------------

/** Items of a batch not listed yet (what its zip holds). */
function openCount(batch) {
  return batch.open_count ?? (batch.item_count ?? 0) - (batch.listed_count ?? 0);
}

function batchLabel(batch) {
  return t("batchOption", [batch.name, String(batch.item_count ?? 0), String(batch.listed_count ?? 0)]);
}

function renderSource() {
  const source = $("source").value;
  const select = $("batch");
  const previous = select.value;
  select.replaceChildren();
  for (const batch of state.batches) {
    const option = el("option", { text: batchLabel(batch) });
    option.value = String(batch.id);
    select.append(option);
  }
  if (!state.batches.length) {
    const option = el("option", { text: t("noBatches") });
    option.value = "";
    select.append(option);
  }
  if (previous && state.batches.some((b) => String(b.id) === previous)) select.value = previous;
  $("batch-row").hidden = source !== "batch";

  let summary = "";
  if (source === "pending") {
    summary = state.pendingCount == null ? "" : t("pendingCount", [String(state.pendingCount)]);
    // 情報不足: held for a template setting or a table row, fixed on the options page
    const held = state.status?.counts?.held ?? 0;
    if (held > 0) summary = `${summary} ${t("heldCount", [String(held)])}`.trim();
  } else {
    const batch = state.batches.find((b) => String(b.id) === select.value);
    if (batch) {
      summary = t("batchSummary", [
        formatTime(batch.created_at, uiLang()),
        String(openCount(batch)),
        String((batch.errors ?? []).length),
      ]);
    }
  }
  $("source-summary").textContent = summary;
  // Items the store keeps in a 競りナビ folder, not started: say so, offer to start them
  const chosen = source === "batch" ? state.batches.find((b) => String(b.id) === select.value) : null;
  const registered = chosen?.registered_count ?? 0;
  $("registered-summary").hidden = registered === 0;
  $("registered-summary").textContent = registered ? t("registeredSummary", [String(registered)]) : "";
  $("btn-start").hidden = registered === 0;
  const nothing = source === "batch" && !state.batches.length;
  $("btn-download").disabled = busy || nothing;
  $("btn-direct").disabled = busy || nothing;
  $("btn-start").disabled = busy;
  $("btn-sync").disabled = busy;
}

function selectedSource() {
  const source = $("source").value;
  return source === "batch" ? { source, batchId: Number($("batch").value) || null } : { source };
}

// ---- actions -----------------------------------------------------------------------------

function setResult(text, kind = "info", hint = "") {
  const node = $("action-result");
  node.textContent = hint ? `${text} ${hint}` : text;
  node.dataset.kind = kind;
}

/** How staff know an item: 管理番号 X (in the UI's language), else what the companion calls it. */
function itemName(entry) {
  return entry.management_number ? t("itemNumber", [entry.management_number]) : (entry.label ?? "");
}

/** One item with every problem it has (and when, for the エラー list). */
function itemProblemsView(entry, { at = null } = {}) {
  const head = el("div", {}, [el("span", { text: itemName(entry), className: "item-name" })]);
  if (at) head.append(el("time", { text: formatTime(at, uiLang()) }));
  const problems = el("ul");
  for (const problem of entry.problems ?? []) problems.append(el("li", { text: pickServerText(problem) }));
  const node = el("li", {}, [head, problems]);
  if (entry.management_number) node.dataset.number = entry.management_number;
  return node;
}

/** The items a batch refused, one entry per item (the companion groups and sorts them). */
function refusedOf(batch) {
  if (!batch) return [];
  if (Array.isArray(batch.refused)) return batch.refused;
  return (batch.errors ?? []).map((error) => ({
    management_number: error.management_number,
    label: error.item ?? "",
    problems: [{ message: error.problem || error.message, message_en: error.message_en }],
  }));
}

function renderRefused(refused) {
  const entries = refused ?? [];
  $("batch-errors").replaceChildren(...entries.map((entry) => itemProblemsView(entry)));
  $("refused-title").textContent = t("refusedTitle", [String(entries.length)]);
  $("refused-section").hidden = entries.length === 0;
}

/** Notices about items that are in the batch all the same (a title Excel would take for a formula). */
function renderWarnings(batch) {
  const entries = (batch?.warnings ?? []).map((warning) => ({
    management_number: warning.management_number,
    label: warning.item ?? "",
    problems: [{ message: warning.problem || warning.message, message_en: warning.message_en }],
  }));
  $("batch-warnings").replaceChildren(...entries.map((entry) => itemProblemsView(entry)));
  $("warnings-title").textContent = t("warningsTitle", [String(entries.length)]);
  $("warnings-section").hidden = entries.length === 0;
}

async function runAction(startText, action) {
  if (busy) return;
  busy = true;
  renderSource();
  setResult(startText, "info");
  renderRefused([]);
  renderWarnings(null);
  try {
    await action();
  } catch (error) {
    setResult(error.text, "error", error.hint);
    // nothing passed the checks: the batch's errors name each item, field and rule
    if (error.batch) renderRefused(refusedOf(error.batch));
    if (error.code === "COMPANION_DOWN") showNotice(error);
  } finally {
    busy = false;
    await refreshLists();
  }
}

async function onDownload() {
  await runAction(t("downloadStarting"), async () => {
    const { batch, download } = await ask(MSG.DOWNLOAD, selectedSource());
    renderRefused(refusedOf(batch));
    renderWarnings(batch);
    if (!download) {
      setResult(t("nothingToDownload"), refusedOf(batch).length ? "error" : "info");
      return;
    }
    if (download.state === "complete") {
      setResult(t("downloadDone", [download.filename, String(openCount(batch))]), "ok");
    } else {
      setResult(t("downloadInProgress", [download.filename || batch.name]), "info");
    }
  });
}

async function onDirect() {
  await runAction(t("directStarting"), async () => {
    const { jobId, itemCount, refused = [] } = await ask(MSG.DIRECT_LISTING, selectedSource());
    startedJobs.set(jobId, null);
    // what the checks refused is named now, not only counted under エラー
    renderRefused(refused);
    if (refused.length) {
      setResult(t("directStartedRefused", [String(itemCount ?? "?"), String(refused.length)]), "ok");
    } else {
      setResult(t("directStarted"), "ok");
    }
    await refreshStatus();
  });
}

async function onStart() {
  await runAction(t("startStarting"), async () => {
    const { jobId } = await ask(MSG.START_REGISTERED, selectedSource());
    startedJobs.set(jobId, null);
    setResult(t("startStarted"), "ok");
    await refreshStatus();
  });
}

async function onSync() {
  await runAction(t("syncStarting"), async () => {
    const { jobId } = await ask(MSG.SYNC);
    startedJobs.set(jobId, null);
    setResult(t("syncStarted"), "ok");
    await refreshStatus();
  });
}

// ---- auto-sync interval --------------------------------------------------------------------

function renderInterval(settings) {
  const value = String(settings?.sync_interval_minutes ?? 0);
  const select = $("interval");
  if ([...select.options].some((o) => o.value === value)) select.value = value;
  select.dataset.saved = select.value;
}

async function onIntervalChange() {
  const select = $("interval");
  const minutes = Number(select.value);
  $("interval-result").textContent = t("saving");
  select.disabled = true;
  try {
    const settings = await ask(MSG.PUT_SETTINGS, { patch: { sync_interval_minutes: minutes } });
    renderInterval(settings); // what the companion stored, not what we asked for
    // the next sync time is shown with 保存しました, not a poll later
    await refreshStatus().catch(() => {});
    $("interval-result").textContent = t("saved");
  } catch (error) {
    select.value = select.dataset.saved ?? "0";
    $("interval-result").textContent = error.fields?.sync_interval_minutes ?? error.text;
  } finally {
    select.disabled = false;
  }
}

/** 1分: the quick check's last run beside the last full sync (前回の同期 is the full one). */
function renderQuickCheck(sync) {
  const shown = Boolean(sync.quick_check || sync.last_quick_at);
  for (const el of document.querySelectorAll("[data-quick]")) el.hidden = !shown;
  $("last-quick").textContent = sync.last_quick_at
    ? `${formatTime(sync.last_quick_at, uiLang())} ${t(`jobState_${sync.last_quick_result}`)}`.trim()
    : t("never");
}

// ---- status: jobs, sync times, errors --------------------------------------------------------

/** What a finished job did, in a line: items listed and refused, or orders read and changes sent. */
function jobSummary(job) {
  if (!FINISHED.has(job.state) || !job.items) return "";
  const parts = [];
  if (job.kind === "sync") {
    const data = Object.fromEntries(job.items.map((item) => [item.key, item.data ?? {}]));
    if (data.orders?.orders != null) parts.push(t("syncOrdersRead", [String(data.orders.orders)]));
    const listed = data.listings?.listed ?? 0;
    const ended = (data.listings?.ended_sold ?? 0) + (data.listings?.ended_unsold ?? 0);
    if (listed) parts.push(t("syncListed", [String(listed)]));
    if (ended) parts.push(t("syncEnded", [String(ended)]));
    if (data.deliver?.sent != null) parts.push(t("syncSent", [String(data.deliver.sent)]));
    if (data.deliver?.pending) parts.push(t("syncPending", [String(data.deliver.pending)]));
  } else {
    const count = (state) => job.items.filter((item) => item.state === state).length;
    const listed = count("succeeded");
    parts.push(t("summaryListed", [String(listed)]));
    if (count("failed")) parts.push(t("summaryFailed", [String(count("failed"))]));
    if (count("refused")) parts.push(t("summaryRefused", [String(count("refused"))]));
  }
  return parts.join(t("listSeparator"));
}

function jobView(job) {
  const done = job.progress?.done ?? 0;
  const total = job.progress?.total ?? 0;
  const finished = FINISHED.has(job.state);
  const head = el("div", { className: "job-head" }, [
    el("span", { text: t(`jobKind_${job.kind}`) }),
    el("span", { text: t(`jobState_${job.state}`), className: `state state-${job.state}` }),
  ]);
  // a sync's steps are not items: once finished it shows what it did, not a step count
  if (job.kind !== "sync") {
    head.append(el("span", { text: t("itemCount", [String(done), String(total)]), className: "count" }));
  }
  const node = el("div", { className: "job" }, [head]);
  if (job.kind !== "sync" || !finished) {
    const bar = el("progress");
    bar.max = Math.max(total, 1);
    if (total > 0 || finished) bar.value = finished && !total ? 1 : done;
    node.append(bar);
  }
  node.dataset.jobId = job.id;
  node.dataset.state = job.state;
  const summary = jobSummary(job);
  if (summary) node.append(el("p", { text: summary, className: "job-summary" }));
  if (job.error) node.append(el("p", { text: pickServerText(job.error), className: "job-error" }));
  const refused = (job.items ?? []).filter((item) => item.state === "refused");
  if (refused.length) {
    node.append(el("h3", { text: t("refusedTitle", [String(refused.length)]) }));
    const list = el("ul", { className: "item-problems refused" });
    for (const item of refused) {
      list.append(
        itemProblemsView({
          label: item.key,
          management_number: item.data?.management_number,
          problems: item.data?.problems ?? [{ message: item.message }],
        }),
      );
    }
    node.append(list);
  }
  const failed = (job.items ?? []).filter((item) => item.state === "failed");
  if (failed.length) {
    const list = el("ul", { className: "errors" });
    for (const item of failed.slice(0, 5)) list.append(el("li", { text: `${item.key}: ${item.message ?? ""}` }));
    if (failed.length > 5) list.append(el("li", { text: t("moreItems", [String(failed.length - 5)]) }));
    node.append(list);
  }
  return node;
}

function renderJobs(runningJobs) {
  for (const job of runningJobs) if (startedJobs.has(job.id)) startedJobs.set(job.id, job);
  const shown = new Map(runningJobs.map((job) => [job.id, job]));
  for (const [id, job] of startedJobs) if (job && !shown.has(id)) shown.set(id, job);
  const jobs = [...shown.values()];
  // finished jobs leave 実行中の処理 for a heading that says they are done
  const running = jobs.filter((job) => !FINISHED.has(job.state));
  const done = jobs.filter((job) => FINISHED.has(job.state));
  $("jobs").replaceChildren(...running.map(jobView));
  $("done-jobs").replaceChildren(...done.map(jobView));
  $("jobs-section").hidden = running.length === 0;
  $("done-section").hidden = done.length === 0;
}

// ---- エラー N: the listings in error, most recent first ----------------------------------------

let shownErrorTotal = null; // the count the open list was loaded for; null while closed

async function showListingErrors() {
  const { items = [], total = 0 } = await ask(MSG.LIST_ERRORS);
  shownErrorTotal = total;
  // items, not listings: two listings that share a 管理番号 are one entry
  $("listing-errors-title").textContent = t("listingErrorsTitle", [String(items.length)]);
  $("listing-errors").replaceChildren(
    ...items.map((item) => itemProblemsView(item, { at: item.at })),
  );
  $("listing-errors-section").hidden = false;
  $("show-errors").setAttribute("aria-expanded", "true");
}

function hideListingErrors() {
  shownErrorTotal = null;
  $("listing-errors-section").hidden = true;
  $("show-errors").setAttribute("aria-expanded", "false");
}

async function onShowErrors() {
  if (!$("listing-errors-section").hidden) {
    hideListingErrors();
    return;
  }
  try {
    await showListingErrors();
  } catch (error) {
    setResult(error.text, "error", error.hint);
  }
}

// Several PCs on one database: which PC runs the syncs, the outbox and ReCORE's tasks.
function renderLeader(cluster) {
  const line = $("leader");
  line.hidden = !cluster?.shared;
  if (line.hidden) return;
  const leader = cluster.leader;
  if (!leader) line.textContent = t("leaderNone");
  else if (leader.this_pc) line.textContent = t("leaderThisPc", [leader.host, String(leader.pid)]);
  else line.textContent = t("leaderOtherPc", [leader.host, String(leader.pid)]);
}

function renderStatus(status, notes) {
  const counts = status?.counts;
  $("counts-text").textContent = counts
    ? t("countsLine", [
        String(counts.pending ?? 0),
        String(counts.processing ?? 0),
        String(counts.listed ?? 0),
        String(counts.bidding ?? 0),
      ])
    : "";
  // エラー N opens the list of the items behind it
  const errorCount = counts?.errors ?? 0;
  const showErrors = $("show-errors");
  showErrors.textContent = t("countsErrors", [String(errorCount)]);
  showErrors.hidden = !counts;
  showErrors.disabled = errorCount === 0;
  if (errorCount === 0) hideListingErrors();
  else if (shownErrorTotal !== null && shownErrorTotal !== errorCount) showListingErrors().catch(() => {});
  renderOutboxAge(status?.outbox);
  renderChecking(status?.checking ?? []);
  const blocked = status?.early_end_blocked ?? [];
  renderBlocked(blocked);
  renderLeader(status?.cluster);
  renderConfirmations(status?.confirmations);
  const sync = status?.sync ?? {};
  $("last-sync").textContent = sync.last_run_at
    ? `${formatTime(sync.last_run_at, uiLang())} ${sync.last_result ? t(`jobState_${sync.last_result}`) : ""}`.trim()
    : t("never");
  $("next-sync").textContent = sync.next_run_at ? formatTime(sync.next_run_at, uiLang()) : t("autoSyncOff");
  renderQuickCheck(sync);
  renderJobs(status?.running_jobs ?? []);

  const entries = [
    ...(status?.last_errors ?? []).map((e) => ({ at: e.at, text: pickServerText(e) })),
    ...(notes ?? []).map((n) => ({ at: n.at, text: n.text })),
  ];
  if (sync.last_error) entries.push({ at: sync.last_run_at, text: pickServerText(sync.last_error) });
  entries.sort((a, b) => (parseTime(b.at) || 0) - (parseTime(a.at) || 0));
  // Errors newly on screen while the popup is open count as seen (the badge's "!" goes).
  const newest = Math.max(0, ...[...entries, ...blocked].map((entry) => parseTime(entry.at) || 0));
  if (newestShownError === null) newestShownError = newest; // load() marks these seen
  else if (newest > newestShownError) {
    newestShownError = newest;
    ask(MSG.MARK_SEEN).catch(() => {});
  }
  const list = $("errors");
  list.replaceChildren();
  for (const entry of entries.slice(0, 5)) {
    list.append(el("li", {}, [el("time", { text: formatTime(entry.at, uiLang()) }), " ", entry.text]));
  }
  if (entries.length) list.append(el("li", { text: t("errorsHint"), className: "hint" }));
  $("errors-section").hidden = entries.length === 0;
}

function formatAge(seconds) {
  const minutes = Math.floor(seconds / 60);
  return minutes < 120 ? t("ageMinutes", [String(minutes)]) : t("ageHours", [String(Math.floor(minutes / 60))]);
}

/** How long results have waited for ReCORE, once that is more than a few minutes. */
function renderOutboxAge(outbox) {
  const node = $("outbox-age");
  const age = outbox?.oldest_age_seconds;
  const waiting = (outbox?.pending ?? 0) > 0 && typeof age === "number" && age >= OUTBOX_AGE_SHOWN_S;
  node.hidden = !waiting;
  node.textContent = waiting ? t("outboxWaiting", [String(outbox.pending), formatAge(age)]) : "";
}

/** Items whose press on the store has no known outcome yet (確認中): nothing is pressed twice. */
function renderChecking(items) {
  const list = $("checking");
  list.replaceChildren(...items.map((item) => el("li", { text: t("checkingItem", [item.key, item.pressed]) })));
  list.hidden = items.length === 0;
}

// ---- 確認モード: 「これから実行する内容」 ------------------------------------------------------

function confirmationView(entry) {
  const values = el("dl", { className: "confirm-values" });
  for (const { name, value } of entry.values ?? []) {
    values.append(el("dt", { text: name }), el("dd", { text: value }));
  }
  const approve = el("button", { text: t("confirmApprove") });
  approve.type = "button";
  approve.dataset.action = "approve";
  const buttons = [approve];
  if (entry.state !== "skipped") {
    const skip = el("button", { text: t("confirmSkip"), className: "secondary" });
    skip.type = "button";
    skip.dataset.action = "skip";
    buttons.push(skip);
  }
  for (const button of buttons) button.addEventListener("click", () => onDecide(entry.id, button.dataset.action));
  const head = el("div", { className: "confirm-head" }, [
    el("strong", { text: t(`confirmKind_${entry.kind}`) || entry.kind_label }),
    " ",
    el("span", { text: entry.item }),
  ]);
  if (entry.state === "skipped") head.append(" ", el("span", { text: t("confirmSkipped"), className: "state state-skipped" }));
  const node = el("li", { className: "confirm-item" }, [
    head,
    el("p", { text: t("confirmTarget", [entry.target]), className: "muted small" }),
    values,
    el("div", { className: "row" }, buttons),
  ]);
  node.dataset.confirmationId = String(entry.id);
  node.dataset.kind = entry.kind;
  node.dataset.state = entry.state;
  return node;
}

/** The writes waiting for staff (and the mode's line), from what the companion reports. */
function renderConfirmations(report) {
  const line = $("confirm-mode");
  line.hidden = !report?.enabled;
  if (report?.enabled) {
    const left = (report.kinds ?? []).filter((kind) => kind.left > 0).length;
    line.textContent = left ? t("confirmModeOn", [String(report.required)]) : t("confirmModeDone");
  }
  const items = report?.items ?? [];
  $("confirm-section").hidden = items.length === 0;
  $("confirm-title").textContent = t("confirmTitle", [String((report?.waiting ?? 0) + (report?.skipped ?? 0))]);
  // a list being answered keeps its nodes (and the focus) until the answer comes
  const list = $("confirm-items");
  const key = JSON.stringify(items.map((entry) => [entry.id, entry.state]));
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...items.map(confirmationView));
}

async function onDecide(id, action) {
  const buttons = $("confirm-items").querySelectorAll(`[data-confirmation-id="${id}"] button`);
  for (const button of buttons) button.disabled = true;
  try {
    const { confirmations } = await ask(MSG.DECIDE_CONFIRMATION, { id, action });
    setResult(t(action === "approve" ? "confirmApproved" : "confirmSkippedResult"), "ok");
    renderConfirmations(confirmations);
  } catch (error) {
    for (const button of buttons) button.disabled = false;
    setResult(error.text ?? String(error), "error", error.hint ?? "");
  }
}

async function refreshStatus() {
  const { status, jobNotes } = await ask(MSG.STATUS);
  const running = new Set((status.running_jobs ?? []).map((job) => job.id));
  // Jobs we started that left the running list: fetch their final state once.
  let finished = false;
  for (const [id, job] of startedJobs) {
    if (!running.has(id) && !(job && FINISHED.has(job.state))) {
      try {
        const final = await ask(MSG.JOB, { id });
        startedJobs.set(id, final);
        finished ||= FINISHED.has(final.state);
      } catch {
        startedJobs.delete(id);
      }
    }
  }
  state.status = status;
  renderStatus(status, jobNotes);
  // A finished job changed the lists (listed counts, pending items): show them as they are now.
  if (finished && !busy) await refreshLists();
}

async function refreshLists() {
  try {
    const next = await ask(MSG.POPUP_STATE);
    if (next.paired) {
      state = next;
      renderSource();
      renderStatus(state.status, state.jobNotes);
    }
  } catch {
    // the refresh loop reports a stopped companion
  }
}

function startRefresh() {
  stopRefresh();
  refreshTimer = setInterval(async () => {
    try {
      await refreshStatus();
    } catch (error) {
      showNotice(error, { options: PAIRING_CODES.has(error.code) });
    }
  }, REFRESH_MS);
}

function stopRefresh() {
  if (refreshTimer !== null) clearInterval(refreshTimer);
  refreshTimer = null;
}

// ---- wiring ----------------------------------------------------------------------------------

fillIntervals();
localize();
$("source").addEventListener("change", renderSource);
$("batch").addEventListener("change", renderSource);
$("btn-download").addEventListener("click", onDownload);
$("btn-direct").addEventListener("click", onDirect);
$("btn-start").addEventListener("click", onStart);
$("btn-sync").addEventListener("click", onSync);
$("interval").addEventListener("change", onIntervalChange);
$("show-errors").addEventListener("click", onShowErrors);
$("hide-errors").addEventListener("click", hideListingErrors);
$("retry").addEventListener("click", load);
$("open-options").addEventListener("click", () => chrome.runtime.openOptionsPage());
load();
