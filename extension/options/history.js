// Options page, 「履歴」: 30 days of what happened to each item (管理番号, what, when, the auction,
// what ReCORE was told and whether it accepted), with filters and 「CSVで保存」 (UTF-8 with BOM,
// opens in Excel as Japanese). A notification's click opens #history?mn=… (or job=, kind=).
import { t, uiLang } from "../common/i18n.js";
import { MSG } from "../common/protocol.js";
import { ask } from "../ui/messaging.js";

const KINDS = [
  "job_failed",
  "job_paused",
  "early_end_blocked",
  "recore_stuck",
  "won",
  "paid",
  "job_done",
  "listed",
  "listing_failed",
  "listing_updated",
  "early_end",
  "order_updated",
  "order_shipped",
  "order_cancelled",
  "task",
  "notice",
];
const RESULTS = ["ok", "failed", "warning", "info"];
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function label(prefix, key, fallback) {
  const text = t(`${prefix}${key}`);
  return text === `${prefix}${key}` ? fallback || key : text;
}

function filterField(id, labelKey, input) {
  return el("div", { class: "history-filter" }, [el("label", { for: id, text: t(labelKey) }), input]);
}

function choice(id, prefix, values) {
  return el("select", { id }, [
    el("option", { value: "", text: t("historyAll") }),
    ...values.map((v) => el("option", { value: v, text: label(prefix, v) })),
  ]);
}

function build(section) {
  section.replaceChildren(
    el("h2", { text: t("historyTitle") }),
    el("p", { class: "muted", text: t("historyHelp") }),
    el("div", { class: "history-filters" }, [
      filterField("history-from", "historyFrom", el("input", { id: "history-from", type: "date" })),
      filterField("history-to", "historyTo", el("input", { id: "history-to", type: "date" })),
      filterField("history-mn", "historyNumber", el("input", { id: "history-mn", type: "text", spellcheck: "false" })),
      filterField("history-kind", "historyKind", choice("history-kind", "historyKind_", KINDS)),
      filterField("history-result", "historyResult", choice("history-result", "historyResult_", RESULTS)),
    ]),
    el("p", { class: "field-error", "data-error-for": "history", role: "alert" }),
    el("div", { class: "row" }, [
      el("button", { type: "button", id: "history-search", text: t("historySearch") }),
      el("button", { type: "button", class: "secondary", id: "history-csv", text: t("historyCsv") }),
      el("span", { class: "result", id: "history-message", role: "status" }),
    ]),
    el("p", { class: "muted small", id: "history-count" }),
    el("div", { class: "history-scroll" }, [
      el("table", { class: "history" }, [
        el("thead", {}, [
          el("tr", {}, ["historyAt", "historyKind", "historyResult", "historyNumber", "historyAuction", "historyMessage", "historyRecore"].map((k) => el("th", { text: t(k) }))),
        ]),
        el("tbody", { id: "history-rows" }),
      ]),
    ]),
  );
}

let jobFilter = "";

function filters() {
  return {
    from: $("history-from").value,
    to: $("history-to").value,
    management_number: $("history-mn").value,
    kind: $("history-kind").value,
    result: $("history-result").value,
    job_id: jobFilter,
  };
}

function localTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  return date.toLocaleString(uiLang() === "ja" ? "ja-JP" : "en-US", {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
}

function recoreText(recore) {
  if (!recore) return "—";
  const parts = [recore.operation_label, recore.state_label].filter(Boolean);
  if (recore.error) parts.push(recore.error);
  return parts.join(" / ");
}

function row(entry) {
  const message = uiLang() === "ja" ? entry.message : entry.message_en || entry.message;
  return el("tr", { "data-result": entry.result, "data-kind": entry.kind }, [
    el("td", { text: localTime(entry.at) }),
    el("td", { text: label("historyKind_", entry.kind, entry.kind_label) }),
    el("td", { text: label("historyResult_", entry.result, entry.result_label) }),
    el("td", { text: entry.management_number ?? "" }),
    el("td", { text: entry.auction_id ?? "" }),
    el("td", { text: message }),
    el("td", { text: recoreText(entry.recore) }),
  ]);
}

function showError(section, error) {
  const fields = Object.values(error.fields ?? {});
  section.querySelector('[data-error-for="history"]').textContent = [error.text, ...fields].filter(Boolean).join(" ");
}

async function search(section) {
  section.querySelector('[data-error-for="history"]').textContent = "";
  $("history-search").disabled = true;
  try {
    const data = await ask(MSG.HISTORY, { filters: filters(), limit: 200 });
    $("history-rows").replaceChildren(...data.entries.map(row));
    $("history-count").textContent = t("historyCount", [String(data.total), String(data.entries.length)]);
  } catch (error) {
    showError(section, error);
  } finally {
    $("history-search").disabled = false;
  }
}

async function saveCsv(section) {
  const message = $("history-message");
  $("history-csv").disabled = true;
  message.textContent = t("historyCsvSaving");
  message.dataset.kind = "info";
  try {
    const { filename } = await ask(MSG.HISTORY_CSV, { filters: filters() });
    message.textContent = t("historyCsvSaved", [filename]);
    message.dataset.kind = "ok";
  } catch (error) {
    message.textContent = [error.text, error.hint].filter(Boolean).join(" ");
    message.dataset.kind = "error";
  } finally {
    $("history-csv").disabled = false;
  }
}

/** #history?mn=A-0001 (or job=…, kind=…): the filters a notification's click asks for. */
function fromHash() {
  const hash = location.hash.replace(/^#/, "");
  if (!hash.startsWith("history")) return false;
  const query = new URLSearchParams(hash.split("?")[1] ?? "");
  $("history-mn").value = query.get("mn") ?? "";
  const kind = query.get("kind") ?? "";
  $("history-kind").value = KINDS.includes(kind) ? kind : "";
  jobFilter = query.get("job") ?? "";
  return true;
}

async function load(section, focus) {
  const { paired } = await ask(MSG.CONNECTION);
  section.hidden = !paired;
  if (paired) {
    await search(section);
    if (focus) section.scrollIntoView();
  }
  section.dataset.ready = "true";
}

function init() {
  const section = $("history");
  if (!section) return;
  build(section);
  $("history-search").addEventListener("click", () => {
    jobFilter = "";
    search(section);
  });
  $("history-csv").addEventListener("click", () => saveCsv(section));
  window.addEventListener("hashchange", () => {
    if (fromHash()) load(section, true);
  });
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === "local" && changes.token) load(section, false);
  });
  load(section, fromHash());
}

init();
