// Options page: companion address + pairing, then the settings the companion keeps.
// Secrets go straight to the companion and are never written to chrome.storage.
import { localize, t, uiLang } from "../common/i18n.js";
import { MSG, RECORE_STATUSES, SECRET_FIELDS, YAHOO_STATUSES } from "../common/protocol.js";
import { normalizeApiUrl, normalizeCompanionUrl, normalizePairingCode, parseOptionalId } from "../common/validate.js";
import { ask, fillIntervals, formatTime } from "../ui/messaging.js";

const $ = (id) => document.getElementById(id);
const TEXT_FIELDS = ["yahoo_id", "business_id", "mail_from"];
// 自動同期: the interval (1 = the quick check) and the full sync's interval while the quick check runs
const INTERVAL_FIELDS = ["sync_interval_minutes", "full_sync_interval_minutes"];

// ---- field errors ------------------------------------------------------------------------

function clearErrors(scope) {
  for (const node of scope.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of scope.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

/** Show `message` next to `field`; false when the page has no place for that field. */
function setFieldError(field, message) {
  const key = field.startsWith("status_mapping") ? "status_mapping" : field;
  const slot = document.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
  if (!slot) return false;
  slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
  const input = $(key);
  if (input) input.setAttribute("aria-invalid", "true");
  return true;
}

function setResult(node, text, kind) {
  node.textContent = text;
  node.dataset.kind = kind;
}

// ---- pairing -----------------------------------------------------------------------------

function renderPairing(paired) {
  const pill = $("pair-state");
  pill.textContent = paired ? t("pairedState") : t("unpairedState");
  pill.dataset.state = paired ? "ok" : "unpaired";
  $("unpair").hidden = !paired;
  $("pair").textContent = paired ? t("repairButton") : t("pairButton");
}

async function onPair() {
  const section = $("pairing");
  clearErrors(section);
  setResult($("pair-message"), "", "info");
  const url = normalizeCompanionUrl($("companion_url").value);
  const code = normalizePairingCode($("pairing_code").value);
  if (!url.ok) setFieldError("companion_url", t(url.error));
  if (!code.ok) setFieldError("pairing_code", t(code.error));
  if (!url.ok || !code.ok) return;
  $("companion_url").value = url.value;
  $("pair").disabled = true;
  try {
    await ask(MSG.PAIR, { companionUrl: url.value, code: code.value });
    $("pairing_code").value = "";
    setResult($("pair-message"), t("pairedMessage"), "ok");
    renderPairing(true);
    await loadSettings();
    await loadPairings();
  } catch (error) {
    const shown = error.fields?.code ? setFieldError("pairing_code", error.fields.code) : false;
    setResult($("pair-message"), [error.text, error.hint].filter(Boolean).join(" "), "error");
    if (!shown && error.code === "INVALID_CODE") setFieldError("pairing_code", error.text);
  } finally {
    $("pair").disabled = false;
  }
}

async function onUnpair() {
  const { revoked } = await ask(MSG.UNPAIR);
  renderPairing(false);
  $("settings").hidden = true;
  $("pairings").hidden = true;
  // the companion could not be reached: its copy of the token ends at the next pairing
  setResult($("pair-message"), t(revoked ? "unpairedMessage" : "unpairedLocalOnly"), revoked ? "info" : "error");
}

// ---- paired extensions (and other clients), each with 解除 ------------------------------------

function pairingLabel(pairing) {
  const who = pairing.origin
    ? t("pairingExtension", [pairing.origin.replace("chrome-extension://", "")])
    : t("pairingNoOrigin");
  const line = t("pairingLine", [who, formatTime(pairing.created_at, uiLang())]);
  return pairing.current ? `${line} ${t("pairingThisExtension")}` : line;
}

function renderPairings(pairings) {
  const list = $("pairing-list");
  list.replaceChildren();
  for (const pairing of pairings) {
    const item = document.createElement("li");
    item.dataset.pairingId = String(pairing.id);
    item.dataset.current = String(Boolean(pairing.current));
    const label = document.createElement("span");
    label.textContent = pairingLabel(pairing);
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "secondary";
    revoke.textContent = t("revokeButton");
    revoke.addEventListener("click", () => onRevoke(pairing));
    item.append(label, revoke);
    list.append(item);
  }
}

async function loadPairings() {
  try {
    const { pairings = [] } = await ask(MSG.LIST_PAIRINGS);
    renderPairings(pairings);
    $("pairings").hidden = false;
  } catch {
    $("pairings").hidden = true; // the settings notice already says why
  }
}

async function onRevoke(pairing) {
  if (pairing.current) {
    await onUnpair();
    return;
  }
  let outcome;
  try {
    await ask(MSG.REVOKE_PAIRING, { id: pairing.id });
    outcome = [t("revokedMessage"), "ok"];
  } catch (error) {
    outcome = [[error.text, error.hint].filter(Boolean).join(" "), "error"];
  }
  // the list first, then the message: what the message says is already what the list shows
  await loadPairings();
  setResult($("pair-message"), ...outcome);
}

// ---- settings form -------------------------------------------------------------------------

function buildMappingRows() {
  const body = $("mapping-rows");
  body.replaceChildren();
  YAHOO_STATUSES.forEach((yahooStatus, index) => {
    const row = document.createElement("tr");
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = yahooStatus;
    const cell = document.createElement("td");
    const select = document.createElement("select");
    select.id = `mapping-${index}`;
    select.dataset.yahooStatus = yahooStatus;
    select.setAttribute("aria-label", yahooStatus);
    for (const recoreStatus of RECORE_STATUSES) {
      const option = document.createElement("option");
      option.value = recoreStatus;
      option.textContent = recoreStatus;
      select.append(option);
    }
    cell.append(select);
    row.append(head, cell);
    body.append(row);
  });
}

function fillForm(settings) {
  $("recore_api_url").value = settings.recore_api_url ?? "";
  $("ec_account_id").value = settings.ec_account_id ?? "";
  $("store_id").value = settings.store_id ?? "";
  for (const name of TEXT_FIELDS) $(name).value = settings[name] ?? "";
  for (const name of INTERVAL_FIELDS) {
    const value = String(settings[name] ?? "");
    if ([...$(name).options].some((o) => o.value === value)) $(name).value = value;
  }
  for (const name of SECRET_FIELDS) {
    const set = Boolean(settings[name]?.set);
    const input = $(name);
    input.value = "";
    input.placeholder = set ? t("secretSetPlaceholder") : "";
    const badge = document.querySelector(`[data-secret-state="${name}"]`);
    badge.textContent = set ? t("secretSet") : t("secretNotSet");
    badge.dataset.set = String(set);
    const clear = document.querySelector(`[data-clear="${name}"]`);
    clear.checked = false;
    clear.parentElement.hidden = !set;
  }
  // 確認モード: on unless switched off (a new installation starts with it on)
  $("confirmation_mode").checked = settings.confirmation_mode !== false;
  $("confirmation_count").value = settings.confirmation_count ?? 3;
  for (const select of $("mapping-rows").querySelectorAll("select")) {
    const value = settings.status_mapping?.[select.dataset.yahooStatus];
    if (RECORE_STATUSES.includes(value)) select.value = value;
  }
}

/** The PUT body, or null after showing the field errors found before sending. */
function collectPatch() {
  const patch = {};
  let valid = true;
  const fail = (field, key) => {
    setFieldError(field, t(key));
    valid = false;
  };

  const url = normalizeApiUrl($("recore_api_url").value);
  if (url.ok) {
    patch.recore_api_url = url.value;
    $("recore_api_url").value = url.value;
  } else fail("recore_api_url", url.error);

  for (const name of ["ec_account_id", "store_id"]) {
    const id = parseOptionalId($(name).value);
    if (id.ok) patch[name] = id.value;
    else fail(name, id.error);
  }
  for (const name of TEXT_FIELDS) {
    const value = $(name).value.trim();
    patch[name] = value === "" ? null : value;
  }
  for (const name of INTERVAL_FIELDS) patch[name] = Number($(name).value);
  for (const name of SECRET_FIELDS) {
    // Only what the staff typed (or asked to clear) is sent; an empty box keeps the stored secret.
    if (document.querySelector(`[data-clear="${name}"]`).checked) patch[name] = null;
    else if ($(name).value !== "") patch[name] = $(name).value;
  }
  patch.confirmation_mode = $("confirmation_mode").checked;
  const count = Number($("confirmation_count").value.trim());
  if (Number.isInteger(count) && count >= 1 && count <= 50) patch.confirmation_count = count;
  else fail("confirmation_count", "errConfirmCount");
  patch.status_mapping = {};
  for (const select of $("mapping-rows").querySelectorAll("select")) {
    patch.status_mapping[select.dataset.yahooStatus] = select.value;
  }
  return valid ? patch : null;
}

async function onSave(event) {
  event.preventDefault();
  const form = $("settings");
  clearErrors(form);
  setResult($("save-message"), "", "info");
  const patch = collectPatch();
  if (!patch) {
    setResult($("save-message"), t("fixFieldErrors"), "error");
    form.querySelector("[aria-invalid]")?.focus();
    return;
  }
  $("save").disabled = true;
  setResult($("save-message"), t("saving"), "info");
  try {
    const settings = await ask(MSG.PUT_SETTINGS, { patch });
    fillForm(settings);
    setResult($("save-message"), t("saved"), "ok");
  } catch (error) {
    const unplaced = [];
    for (const [field, message] of Object.entries(error.fields ?? {})) {
      if (!setFieldError(field, message)) unplaced.push(`${field}: ${message}`);
    }
    const text = [error.text, ...unplaced, error.hint].filter(Boolean).join(" ");
    setResult($("save-message"), text, "error");
    form.querySelector("[aria-invalid]")?.focus();
  } finally {
    $("save").disabled = false;
  }
}

async function loadSettings() {
  const notice = $("settings-unavailable");
  try {
    const settings = await ask(MSG.GET_SETTINGS);
    fillForm(settings);
    $("settings").hidden = false;
    notice.hidden = true;
    document.dispatchEvent(new CustomEvent("companion-ready")); // the tables part loads now
  } catch (error) {
    $("settings").hidden = true;
    notice.hidden = false;
    notice.textContent = [error.text, error.hint].filter(Boolean).join(" ");
  }
}

async function init() {
  fillIntervals();
  localize();
  buildMappingRows();
  const { companionUrl, paired } = await ask(MSG.CONNECTION);
  $("companion_url").value = companionUrl;
  renderPairing(paired);
  if (paired) {
    await loadSettings();
    await loadPairings();
  } else {
    $("settings-unavailable").hidden = false;
    $("settings-unavailable").textContent = t("pairFirst");
  }
  document.body.dataset.ready = "true"; // lets tests (and people) know the page finished loading
}

// 「サポート用の情報を保存」: the companion's support bundle, saved like a batch's zip.
async function onSupportBundle() {
  const message = $("support-message");
  message.dataset.kind = "info";
  message.textContent = t("supportSaving");
  try {
    const { filename } = await ask(MSG.SUPPORT_BUNDLE);
    message.dataset.kind = "ok";
    message.textContent = t("supportSaved", [filename]);
  } catch (error) {
    message.dataset.kind = "error";
    message.textContent = [error.text, error.hint].filter(Boolean).join(" ");
  }
}

$("pair").addEventListener("click", onPair);
$("pairing_code").addEventListener("keydown", (event) => {
  if (event.key === "Enter") onPair();
});
$("unpair").addEventListener("click", onUnpair);
$("settings").addEventListener("submit", onSave);
$("support-bundle").addEventListener("click", onSupportBundle);
init();
