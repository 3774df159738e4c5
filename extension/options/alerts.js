// Options page, 「通知」: which events reach staff where (Chrome, e-mail, Chatwork, LINE), each
// channel's settings and its 「テスト送信」. Secrets go straight to the companion (write-only there).
import { t, uiLang } from "../common/i18n.js";
import { MSG } from "../common/protocol.js";
import { ask, formatTime } from "../ui/messaging.js";

export const ALERT_KINDS = ["job_failed", "job_paused", "early_end_blocked", "recore_stuck", "won", "paid"];
const CHANNELS = ["chrome", "email", "chatwork", "line"];
const SENDING = ["email", "chatwork", "line"];
const SECRET = { email: "password", chatwork: "token", line: "token" };
const FIELDS = {
  email: ["host", "port", "security", "username", "password", "from", "to"],
  chatwork: ["room_id", "token"],
  line: ["to", "token"],
};
const TOP = ["recore_stuck_minutes", "history_retention_days"];

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

const fieldId = (channel, name) => `alert-${channel}-${name}`;

function errorSlot(key) {
  return el("p", { class: "field-error", "data-error-for": key, role: "alert" });
}

function fieldRow(channel, name) {
  const id = fieldId(channel, name);
  const label = el("label", { for: id }, [el("span", { text: t(`alertField_${channel}_${name}`) })]);
  let input;
  if (name === "security") {
    input = el("select", { id }, ["starttls", "ssl", "none"].map((v) => el("option", { value: v, text: t(`alertSecurity_${v}`) })));
  } else {
    const secret = SECRET[channel] === name;
    input = el("input", {
      id,
      type: secret ? "password" : name === "port" ? "number" : "text",
      autocomplete: secret ? "new-password" : "off",
      spellcheck: "false",
    });
    if (secret) label.append(el("span", { class: "secret-state", "data-alert-secret": channel }));
  }
  const children = [label, input];
  const help = t(`alertHelp_${channel}_${name}`);
  if (help !== `alertHelp_${channel}_${name}`) children.push(el("p", { class: "muted small", text: help }));
  if (SECRET[channel] === name) {
    children.push(
      el("label", { class: "inline" }, [el("input", { type: "checkbox", id: `${id}-clear` }), el("span", { text: t("clearSecret") })]),
    );
  }
  children.push(errorSlot(`${channel}.${name}`));
  return el("div", { class: "field" }, children);
}

function kindsTable() {
  const head = el("tr", {}, [el("th", { text: t("alertKindHeader") }), ...CHANNELS.map((c) => el("th", { text: t(`alertChannel_${c}`) }))]);
  const rows = ALERT_KINDS.map((kind) =>
    el("tr", {}, [
      el("th", { scope: "row", text: t(`historyKind_${kind}`) }),
      ...CHANNELS.map((channel) =>
        el("td", {}, [
          el("input", {
            type: "checkbox",
            id: fieldId(channel, `kind-${kind}`),
            "aria-label": `${t(`historyKind_${kind}`)} – ${t(`alertChannel_${channel}`)}`,
          }),
        ]),
      ),
    ]),
  );
  return el("table", { class: "mapping alert-kinds" }, [el("thead", {}, [head]), el("tbody", {}, rows)]);
}

function channelCard(channel) {
  return el("fieldset", { class: "alert-channel", id: `alert-${channel}` }, [
    el("legend", { text: t(`alertChannel_${channel}`) }),
    el("label", { class: "inline" }, [el("input", { type: "checkbox", id: fieldId(channel, "enabled") }), el("span", { text: t("alertEnabled") })]),
    errorSlot(`${channel}.enabled`),
    ...FIELDS[channel].map((name) => fieldRow(channel, name)),
    el("div", { class: "row" }, [
      el("button", { type: "button", class: "secondary", id: fieldId(channel, "test"), text: t("alertTestButton") }),
      el("span", { class: "result", id: fieldId(channel, "result"), role: "status" }),
    ]),
    el("p", { class: "muted small", id: fieldId(channel, "status") }),
  ]);
}

function build(section) {
  section.replaceChildren(
    el("h2", { text: t("alertsTitle") }),
    el("p", { class: "muted", text: t("alertsHelp") }),
    kindsTable(),
    errorSlot("chrome.kinds"),
    ...SENDING.map(channelCard),
    ...TOP.map((name) =>
      el("div", { class: "field" }, [
        el("label", { for: `alert-${name}`, text: t(`alertField_${name}`) }),
        el("input", { id: `alert-${name}`, type: "number", min: "0" }),
        errorSlot(name),
      ]),
    ),
    el("div", { class: "row" }, [
      el("button", { type: "button", id: "alerts-save", text: t("saveButton") }),
      el("span", { class: "result", id: "alerts-message", role: "status" }),
    ]),
  );
}

function fill(settings) {
  for (const channel of CHANNELS) {
    const kinds = new Set(settings[channel]?.kinds ?? []);
    for (const kind of ALERT_KINDS) $(fieldId(channel, `kind-${kind}`)).checked = kinds.has(kind);
  }
  for (const channel of SENDING) {
    const part = settings[channel] ?? {};
    $(fieldId(channel, "enabled")).checked = Boolean(part.enabled);
    for (const name of FIELDS[channel]) {
      const input = $(fieldId(channel, name));
      if (SECRET[channel] === name) {
        const set = Boolean(part[name]?.set);
        input.value = "";
        input.placeholder = set ? t("secretSetPlaceholder") : "";
        const badge = document.querySelector(`[data-alert-secret="${channel}"]`);
        badge.textContent = set ? t("secretSet") : t("secretNotSet");
        badge.dataset.set = String(set);
        $(`${fieldId(channel, name)}-clear`).checked = false;
        $(`${fieldId(channel, name)}-clear`).parentElement.hidden = !set;
      } else if (name === "to" && Array.isArray(part.to)) input.value = part.to.join(", ");
      else input.value = part[name] ?? "";
    }
    const status = settings.status?.[channel];
    const line = [];
    if (status?.pending) line.push(t("alertPending", [String(status.pending)]));
    if (status?.last_sent_at) line.push(t("alertLastSent", [formatTime(status.last_sent_at, uiLang())]));
    if (status?.last_error) line.push(t("alertLastError", [status.last_error]));
    $(fieldId(channel, "status")).textContent = line.join(" ");
  }
  for (const name of TOP) $(`alert-${name}`).value = settings[name] ?? "";
}

function collect() {
  const patch = {};
  for (const channel of CHANNELS) {
    patch[channel] = { kinds: ALERT_KINDS.filter((kind) => $(fieldId(channel, `kind-${kind}`)).checked) };
  }
  for (const channel of SENDING) {
    const part = patch[channel];
    part.enabled = $(fieldId(channel, "enabled")).checked;
    for (const name of FIELDS[channel]) {
      const value = $(fieldId(channel, name)).value;
      if (SECRET[channel] === name) {
        if ($(`${fieldId(channel, name)}-clear`).checked) part[name] = null;
        else if (value !== "") part[name] = value;
      } else if (name === "port") part.port = value.trim() === "" ? 587 : value.trim();
      else if (name === "security") part.security = value;
      else if (name === "to" && channel === "email") part.to = value;
      else part[name] = value.trim() === "" ? null : value.trim();
    }
  }
  for (const name of TOP) patch[name] = $(`alert-${name}`).value.trim();
  return patch;
}

function clearErrors(section) {
  for (const node of section.querySelectorAll(".field-error")) node.textContent = "";
}

function showErrors(section, error) {
  const unplaced = [];
  for (const [field, message] of Object.entries(error.fields ?? {})) {
    const slot = section.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (slot) slot.textContent = message;
    else unplaced.push(message);
  }
  return unplaced;
}

function setResult(node, text, kind) {
  node.textContent = text;
  node.dataset.kind = kind;
}

async function save(section) {
  clearErrors(section);
  try {
    fill(await ask(MSG.PUT_ALERTS, { patch: collect() }));
    return true;
  } catch (error) {
    const unplaced = showErrors(section, error);
    setResult($("alerts-message"), [error.text, ...unplaced, error.hint].filter(Boolean).join(" "), "error");
    return false;
  }
}

async function onSave(section) {
  $("alerts-save").disabled = true;
  setResult($("alerts-message"), t("saving"), "info");
  try {
    if (await save(section)) setResult($("alerts-message"), t("saved"), "ok");
  } finally {
    $("alerts-save").disabled = false;
  }
}

// 「テスト送信」: what is on the page is saved first, then sent with.
async function onTest(section, channel) {
  const result = $(fieldId(channel, "result"));
  const button = $(fieldId(channel, "test"));
  button.disabled = true;
  setResult(result, t("alertTesting"), "info");
  try {
    if (!(await save(section))) {
      setResult(result, t("fixFieldErrors"), "error");
      return;
    }
    const reply = await ask(MSG.TEST_ALERT, { channel });
    if (reply.ok) setResult(result, uiLang() === "ja" ? reply.message : reply.message_en, "ok");
    else setResult(result, uiLang() === "ja" ? reply.error.message : reply.error.message_en, "error");
    fill(await ask(MSG.GET_ALERTS));
  } catch (error) {
    setResult(result, [error.text, error.hint].filter(Boolean).join(" "), "error");
  } finally {
    button.disabled = false;
  }
}

async function load(section) {
  try {
    fill(await ask(MSG.GET_ALERTS));
    section.hidden = false;
  } catch {
    section.hidden = true; // not paired, or an older companion: the settings part says why
  }
  section.dataset.ready = "true";
}

function init() {
  const section = $("alerts");
  if (!section) return;
  build(section);
  $("alerts-save").addEventListener("click", () => onSave(section));
  for (const channel of SENDING) $(fieldId(channel, "test")).addEventListener("click", () => onTest(section, channel));
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === "local" && changes.token) load(section); // paired or unpaired meanwhile
  });
  load(section);
}

init();
