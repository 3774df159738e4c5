// The toolbar popup: choose a source, download / list directly / sync, watch progress and errors.
import { localize, pickServerText, t, uiLang } from "../common/i18n.js";
import { MSG } from "../common/protocol.js";
import { parseTime } from "../common/time.js";
import { ask, formatTime } from "../ui/messaging.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 1500;
const FINISHED = new Set(["succeeded", "partial", "failed"]);
// Codes after which only the options page (pairing) helps.
const PAIRING_CODES = new Set(["NOT_PAIRED", "UNAUTHORIZED", "ORIGIN_NOT_ALLOWED"]);

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
  setConnState(error.code === "COMPANION_DOWN" || error.code === "COMPANION_TIMEOUT" ? "down" : "unpaired");
}

async function load() {
  delete document.body.dataset.ready;
  try {
    await loadInner();
  } finally {
    document.body.dataset.ready = "true"; // lets tests (and people) know the popup finished loading
  }
}

async function loadInner() {
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
  const nothing = source === "batch" && !state.batches.length;
  $("btn-download").disabled = busy || nothing;
  $("btn-direct").disabled = busy || nothing;
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

function renderBatchErrors(batch) {
  const list = $("batch-errors");
  list.replaceChildren();
  for (const error of batch?.errors ?? []) list.append(el("li", { text: pickServerText(error) }));
}

async function runAction(startText, action) {
  if (busy) return;
  busy = true;
  renderSource();
  setResult(startText, "info");
  $("batch-errors").replaceChildren();
  try {
    await action();
  } catch (error) {
    setResult(error.text, "error", error.hint);
    // nothing passed the checks: the batch's errors name each item, field and rule
    if (error.batch) renderBatchErrors(error.batch);
    if (error.code === "COMPANION_DOWN") showNotice(error);
  } finally {
    busy = false;
    await refreshLists();
  }
}

async function onDownload() {
  await runAction(t("downloadStarting"), async () => {
    const { batch, download } = await ask(MSG.DOWNLOAD, selectedSource());
    renderBatchErrors(batch);
    if (!download) {
      setResult(t("nothingToDownload"), (batch?.errors ?? []).length ? "error" : "info");
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
    const { jobId } = await ask(MSG.DIRECT_LISTING, selectedSource());
    startedJobs.set(jobId, null);
    setResult(t("directStarted"), "ok");
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
    $("interval-result").textContent = t("saved");
    await refreshStatus();
  } catch (error) {
    select.value = select.dataset.saved ?? "0";
    $("interval-result").textContent = error.fields?.sync_interval_minutes ?? error.text;
  } finally {
    select.disabled = false;
  }
}

// ---- status: jobs, sync times, errors --------------------------------------------------------

function jobView(job) {
  const done = job.progress?.done ?? 0;
  const total = job.progress?.total ?? 0;
  const bar = el("progress");
  bar.max = Math.max(total, 1);
  if (total > 0 || FINISHED.has(job.state)) bar.value = FINISHED.has(job.state) && !total ? 1 : done;
  const head = el("div", { className: "job-head" }, [
    el("span", { text: t(`jobKind_${job.kind}`) }),
    el("span", { text: t(`jobState_${job.state}`), className: `state state-${job.state}` }),
    el("span", { text: t("itemCount", [String(done), String(total)]), className: "count" }),
  ]);
  const node = el("div", { className: "job" }, [head, bar]);
  node.dataset.jobId = job.id;
  node.dataset.state = job.state;
  if (job.error) node.append(el("p", { text: pickServerText(job.error), className: "job-error" }));
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
  const container = $("jobs");
  container.replaceChildren(...[...shown.values()].map(jobView));
  $("jobs-section").hidden = shown.size === 0;
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
  $("counts").textContent = counts
    ? t("countsLine", [
        String(counts.pending ?? 0),
        String(counts.processing ?? 0),
        String(counts.listed ?? 0),
        String(counts.bidding ?? 0),
        String(counts.errors ?? 0),
      ])
    : "";
  renderLeader(status?.cluster);
  const sync = status?.sync ?? {};
  $("last-sync").textContent = sync.last_run_at
    ? `${formatTime(sync.last_run_at, uiLang())} ${sync.last_result ? t(`jobState_${sync.last_result}`) : ""}`.trim()
    : t("never");
  $("next-sync").textContent = sync.next_run_at ? formatTime(sync.next_run_at, uiLang()) : t("autoSyncOff");
  renderJobs(status?.running_jobs ?? []);

  const entries = [
    ...(status?.last_errors ?? []).map((e) => ({ at: e.at, text: pickServerText(e) })),
    ...(notes ?? []).map((n) => ({ at: n.at, text: n.text })),
  ];
  if (sync.last_error) entries.push({ at: sync.last_run_at, text: pickServerText(sync.last_error) });
  entries.sort((a, b) => (parseTime(b.at) || 0) - (parseTime(a.at) || 0));
  // Errors newly on screen while the popup is open count as seen (the badge's "!" goes).
  const newest = Math.max(0, ...entries.map((entry) => parseTime(entry.at) || 0));
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

localize();
$("source").addEventListener("change", renderSource);
$("batch").addEventListener("change", renderSource);
$("btn-download").addEventListener("click", onDownload);
$("btn-direct").addEventListener("click", onDirect);
$("btn-sync").addEventListener("click", onSync);
$("interval").addEventListener("change", onIntervalChange);
$("retry").addEventListener("click", load);
$("open-options").addEventListener("click", () => chrome.runtime.openOptionsPage());
load();
