// Options page, 「接続診断」: runs the companion's read-only diagnosis of ReCORE and the Yahoo
// store and shows its summary (what works, what does not, what to send to support) and the zip.
import { t } from "../common/i18n.js";
import { MSG } from "../common/protocol.js";
import { ask } from "../ui/messaging.js";

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

function build(section) {
  section.replaceChildren(
    el("h2", { text: t("diagnoseTitle") }),
    el("p", { class: "muted", text: t("diagnoseHelp") }),
    el("div", { class: "row" }, [
      el("button", { type: "button", id: "diagnose-run", text: t("diagnoseRun") }),
      el("span", { class: "result", id: "diagnose-message", role: "status" }),
    ]),
    el("pre", { id: "diagnose-summary", class: "diagnose-summary", hidden: "" }),
    el("p", { class: "muted small", id: "diagnose-zip" }),
  );
}

async function run() {
  const message = $("diagnose-message");
  const summary = $("diagnose-summary");
  $("diagnose-run").disabled = true;
  $("diagnose-zip").textContent = "";
  summary.hidden = true;
  message.textContent = t("diagnoseRunning");
  message.dataset.kind = "info";
  try {
    const result = await ask(MSG.DIAGNOSE);
    message.textContent = t(result.ok ? "diagnoseOk" : "diagnoseProblems");
    message.dataset.kind = result.ok ? "ok" : "error";
    summary.textContent = result.summary;
    summary.hidden = false;
    $("diagnose-zip").textContent = t("diagnoseZip", [result.zip]);
  } catch (error) {
    message.textContent = [error.text, error.hint].filter(Boolean).join(" ");
    message.dataset.kind = "error";
  } finally {
    $("diagnose-run").disabled = false;
  }
}

async function load(section) {
  const { paired } = await ask(MSG.CONNECTION);
  section.hidden = !paired;
  section.dataset.ready = "true";
}

function init() {
  const section = $("diagnose");
  if (!section) return;
  build(section);
  $("diagnose-run").addEventListener("click", run);
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === "local" && changes.token) load(section);
  });
  load(section);
}

init();
