// Options page: the shop's own listing templates and tables, and the co-api tables.
// Each card saves one whole table (PUT /tables/{name}); the companion validates it and answers
// with field errors (shown next to the field) or the table as stored. Saving a listing table
// re-checks the listings held for missing information (情報不足), shown at the end.
import { localize, pickServerText, t } from "../common/i18n.js";
import { MSG } from "../common/protocol.js";
import { ask } from "../ui/messaging.js";

const $ = (id) => document.getElementById(id);

// How each template setting is edited: a select over one of the companion's choice lists, a
// yes/no, a number, one line of text or the description's text.
const TEMPLATE_KINDS = {
  duration_days: "select:duration_days",
  end_hour: "select:end_hours",
  shipping_payer: "select:shipping_payers",
  prefecture: "select:prefectures",
  city: "text",
  delivery_group: "select:delivery_groups",
  lead_time_code: "select:lead_time_codes",
  tax_rate: "select:tax_rates",
  tax_included: "bool",
  auto_extend: "bool",
  resubmit_count: "select:resubmit_counts",
  min_rating: "int",
  bad_rating_limit: "bool",
  bidder_auth_limit: "bool",
  folder_path: "text",
  size_class: "int",
  category_id: "text",
  price_mode: "select:price_modes",
  description: "textarea",
};

let choices = null;

// ---- small DOM helpers --------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

/** [value, label] pairs of a choice list (a list of values, or {code: label}). */
function options(list) {
  const values = choices[list];
  return Array.isArray(values) ? values.map((v) => [String(v), String(v)]) : Object.entries(values);
}

function errorSlot(table, path) {
  return el("p", { class: "field-error", role: "alert", dataset: { tableError: `${table}:${path}` } });
}

function setResult(node, text, kind) {
  node.textContent = text;
  node.dataset.kind = kind;
}

function clearErrors(card) {
  for (const node of card.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of card.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

/** Each companion field error next to its field; the ones with no place go into the result line. */
function showErrors(card, table, fields) {
  const unplaced = [];
  for (const [path, message] of Object.entries(fields ?? {})) {
    const slot = card.querySelector(`[data-table-error="${CSS.escape(`${table}:${path}`)}"]`);
    if (!slot) {
      unplaced.push(`${path}: ${message}`);
      continue;
    }
    slot.textContent = message;
    slot.previousElementSibling?.setAttribute?.("aria-invalid", "true");
  }
  return unplaced;
}

// ---- one template setting ------------------------------------------------------------------------

/** The control of one setting. In a named template every control can be left as in the default. */
function settingControl(name, value, { named }) {
  const kind = TEMPLATE_KINDS[name];
  const id = `${named ? "named" : "default"}-${name}-${Math.random().toString(36).slice(2, 8)}`;
  let control;
  if (kind.startsWith("select:") || (kind === "bool" && named)) {
    control = el("select", { id });
    const blank = named ? t("keepDefault") : t("notSet");
    const pairs =
      kind === "bool"
        ? [
            ["true", t("choiceYes")],
            ["false", t("choiceNo")],
          ]
        : options(kind.slice("select:".length));
    if (named || !["duration_days", "end_hour", "shipping_payer", "delivery_group"].includes(name)) {
      control.append(el("option", { value: "", text: blank }));
    }
    for (const [v, label] of pairs) control.append(el("option", { value: v, text: label }));
    control.value = value === null || value === undefined ? "" : String(value);
  } else if (kind === "bool") {
    control = el("input", { id, type: "checkbox" });
    control.checked = Boolean(value);
  } else if (kind === "textarea") {
    control = el("textarea", { id, rows: "4", spellcheck: "false" });
    control.value = value ?? "";
  } else {
    control = el("input", { id, inputmode: kind === "int" ? "numeric" : "text", spellcheck: "false" });
    control.value = value ?? "";
    if (named) control.placeholder = t("keepDefault");
  }
  control.dataset.setting = name;
  control.dataset.kind = kind;
  const label = el("label", { for: id, text: t(`tplField_${name}`) });
  return [label, control];
}

/** A setting's value as the companion takes it (null: not set / as in 標準). */
function settingValue(control) {
  const kind = control.dataset.kind;
  if (control.type === "checkbox") return control.checked;
  const raw = control.value.trim();
  if (raw === "") return null;
  if (kind === "bool") return raw === "true";
  if (kind === "int" || ["duration_days", "end_hour", "delivery_group", "tax_rate", "resubmit_count"].includes(control.dataset.setting)) {
    const number = Number(raw);
    return Number.isInteger(number) ? number : raw; // the companion names a bad number
  }
  return control.tagName === "TEXTAREA" ? control.value : raw;
}

function settingsGrid(values, path, { named }) {
  const grid = el("div", { class: "tpl-grid" });
  for (const name of Object.keys(TEMPLATE_KINDS)) {
    const [label, control] = settingControl(name, values?.[name], { named });
    const cell = el("div", { class: `field tpl-${TEMPLATE_KINDS[name].split(":")[0]}` }, label, control);
    cell.append(errorSlot("templates", `${path}.${name}`));
    if (name === "description") {
      const words = choices.placeholders.map((p) => `{${p}}`).join(" ");
      cell.append(el("p", { class: "muted small", text: t("placeholdersHelp", [words]) }));
    }
    grid.append(cell);
  }
  return grid;
}

// ---- templates card ------------------------------------------------------------------------------

function namedBlock(template, index) {
  const block = el("fieldset", { class: "tpl-named", dataset: { index: String(index) } });
  const name = el("input", { "data-named": "name", spellcheck: "false" });
  name.value = template.name ?? "";
  const categories = el("input", { "data-named": "categories", inputmode: "numeric" });
  categories.value = (template.categories ?? []).join(", ");
  const stores = el("input", { "data-named": "stores", inputmode: "numeric" });
  stores.value = (template.stores ?? []).join(", ");
  const remove = el("button", { type: "button", class: "secondary", text: t("removeRow") });
  remove.addEventListener("click", () => block.remove());
  const head = el(
    "div",
    { class: "tpl-head" },
    el("div", { class: "field" }, el("label", { text: t("templateName") }), name, errorSlot("templates", `named.${index}.name`)),
    el(
      "div",
      { class: "field" },
      el("label", { text: t("templateCategories") }),
      categories,
      errorSlot("templates", `named.${index}.categories`),
    ),
    el("div", { class: "field" }, el("label", { text: t("templateStores") }), stores, errorSlot("templates", `named.${index}.stores`)),
    remove,
  );
  block.append(head, settingsGrid(template.fields ?? {}, `named.${index}.fields`, { named: true }));
  return block;
}

function ids(text) {
  return text
    .split(/[,、\s]+/)
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function renderTemplates(table) {
  $("tpl-default").replaceChildren(settingsGrid(table.default, "default", { named: false }));
  const list = $("tpl-named-list");
  list.replaceChildren(...(table.named ?? []).map((tpl, i) => namedBlock(tpl, i)));
}

function collectTemplates() {
  const fromGrid = (grid, named) => {
    const out = {};
    for (const control of grid.querySelectorAll("[data-setting]")) {
      const value = settingValue(control);
      if (named && value === null) continue;
      out[control.dataset.setting] = value;
    }
    return out;
  };
  const named = [...$("tpl-named-list").querySelectorAll(".tpl-named")].map((block) => ({
    name: block.querySelector('[data-named="name"]').value.trim(),
    categories: ids(block.querySelector('[data-named="categories"]').value),
    stores: ids(block.querySelector('[data-named="stores"]').value),
    fields: fromGrid(block.querySelector(".tpl-grid"), true),
  }));
  return { default: fromGrid($("tpl-default"), false), named };
}

// ---- row tables: grades, categories, task types --------------------------------------------------

function rowRemove(row) {
  const button = el("button", { type: "button", class: "secondary", text: t("removeRow") });
  button.addEventListener("click", () => row.remove());
  return el("td", {}, button);
}

function gradeRow(grade = "", condition = "") {
  const row = el("tr");
  const name = el("input", { "data-col": "grade", "aria-label": t("gradeName") });
  name.value = grade;
  const select = el("select", { "data-col": "condition", "aria-label": t("gradeCondition") });
  select.append(el("option", { value: "", text: t("notSet") }));
  for (const c of choices.conditions) select.append(el("option", { value: c, text: c }));
  select.value = condition;
  row.append(el("td", {}, name, errorSlot("grades", grade)), el("td", {}, select), rowRemove(row));
  return row;
}

function categoryRow(item = {}, index = 0) {
  const row = el("tr");
  const cell = (col, value, label) => {
    const input = el("input", { "data-col": col, "aria-label": label, spellcheck: "false" });
    input.value = value ?? "";
    return el("td", {}, input, errorSlot("categories", `rows.${index}.${col}`));
  };
  row.append(
    cell("recore_category_id", item.recore_category_id, t("catRecoreId")),
    cell("recore_category_name", item.recore_category_name, t("catRecoreName")),
    cell("yahoo_category_id", item.yahoo_category_id, t("catYahooId")),
    rowRemove(row),
  );
  return row;
}

function taskTypeRow(name = "", target = "") {
  const row = el("tr");
  const input = el("input", { "data-col": "name", "aria-label": t("taskRecoreName"), spellcheck: "false" });
  input.value = name;
  const select = el("select", { "data-col": "target", "aria-label": t("taskHandler") });
  select.append(el("option", { value: "", text: t("notSet") }));
  for (const type of choices.task_types) select.append(el("option", { value: type, text: type }));
  select.value = target;
  row.append(el("td", {}, input, errorSlot("task_types", name)), el("td", {}, select), rowRemove(row));
  return row;
}

function collectRows(body) {
  return [...body.querySelectorAll("tr")].map((row) => {
    const out = {};
    for (const input of row.querySelectorAll("[data-col]")) out[input.dataset.col] = input.value.trim();
    return out;
  });
}

const COLLECT = {
  templates: collectTemplates,
  grades: () =>
    Object.fromEntries(collectRows($("grade-rows")).filter((r) => r.grade || r.condition).map((r) => [r.grade, r.condition])),
  categories: () =>
    collectRows($("category-rows"))
      .filter((r) => r.recore_category_id || r.yahoo_category_id)
      .map((r) => ({
        ...r,
        recore_category_id: /^\d+$/.test(r.recore_category_id) ? Number(r.recore_category_id) : r.recore_category_id,
      })),
  task_types: () =>
    Object.fromEntries(collectRows($("task-type-rows")).filter((r) => r.name || r.target).map((r) => [r.name, r.target])),
  order_statuses: () =>
    Object.fromEntries([...$("order-status-rows").querySelectorAll("input")].map((i) => [i.dataset.status, i.value.trim()])),
};

// ---- what is kept: held listings, unknown tasks ----------------------------------------------------

function renderHeld(held) {
  const list = $("held-list");
  $("held-count").textContent = String(held.length);
  if (!held.length) {
    list.replaceChildren(el("li", { class: "muted", text: t("heldNone") }));
    return;
  }
  list.replaceChildren(
    ...held.map((item) =>
      el(
        "li",
        { dataset: { listingId: String(item.id) } },
        el("strong", { text: item.management_number ?? `ID ${item.id}` }),
        ` ${item.title ?? ""}`,
        el("ul", { class: "errors" }, ...(item.errors ?? []).map((e) => el("li", { text: pickServerText(e) }))),
      ),
    ),
  );
}

function renderUnknown(tasks) {
  const list = $("unknown-tasks");
  if (!tasks.length) {
    list.replaceChildren(el("li", { class: "muted", text: t("unknownTasksNone") }));
    return;
  }
  list.replaceChildren(
    ...tasks.map((task) =>
      el(
        "li",
        { dataset: { taskId: task.id } },
        el("code", { class: "task-type", text: task.type }),
        " ",
        el("code", { class: "task-data", text: JSON.stringify(task.data) }),
        el("span", { class: "muted small", text: ` ${task.received_at ?? ""}` }),
      ),
    ),
  );
}

// ---- load and save -------------------------------------------------------------------------------

function render(data) {
  choices = data.choices;
  const tables = data.tables;
  renderTemplates(tables.templates);
  $("grade-rows").replaceChildren(...Object.entries(tables.grades).map(([g, c]) => gradeRow(g, c)));
  $("category-rows").replaceChildren(...tables.categories.map((row, i) => categoryRow(row, i)));
  $("task-type-rows").replaceChildren(...Object.entries(tables.task_types).map(([n, v]) => taskTypeRow(n, v)));
  $("order-status-rows").replaceChildren(
    ...choices.order_statuses.map((status) => {
      const input = el("input", { "data-status": status, "aria-label": status, spellcheck: "false" });
      input.value = tables.order_statuses[status] ?? "";
      return el("tr", {}, el("th", { scope: "row", text: status }), el("td", {}, input, errorSlot("order_statuses", status)));
    }),
  );
  renderHeld(data.held);
  renderUnknown(data.unknownTasks);
}

async function save(card) {
  const name = card.dataset.table;
  const result = card.querySelector(".table-result");
  clearErrors(card);
  setResult(result, t("saving"), "info");
  const button = card.querySelector("[data-save]");
  button.disabled = true;
  try {
    const answer = await ask(MSG.PUT_TABLE, { name, table: COLLECT[name]() });
    const recheck = answer.recheck;
    const text = recheck ? t("tableSavedRecheck", [String(recheck.released), String(recheck.held)]) : t("saved");
    setResult(result, text, "ok");
    await load(); // the stored table (cleaned), and what is held now
  } catch (error) {
    const unplaced = showErrors(card, name, error.fields);
    setResult(result, [error.text, ...unplaced, error.hint].filter(Boolean).join(" "), "error");
    card.querySelector("[aria-invalid]")?.focus();
  } finally {
    button.disabled = false;
  }
}

async function load() {
  const section = $("tables");
  try {
    render(await ask(MSG.GET_TABLES));
    section.hidden = false;
  } catch (error) {
    section.hidden = true;
    console.warn("tables not loaded", error);
  }
  document.body.dataset.tablesReady = "true";
}

function init() {
  localize($("tables"));
  for (const card of document.querySelectorAll("#tables [data-table]")) {
    card.querySelector("[data-save]").addEventListener("click", () => save(card));
  }
  $("add-template").addEventListener("click", () => {
    const list = $("tpl-named-list");
    list.append(namedBlock({ name: "", categories: [], stores: [], fields: {} }, list.children.length));
  });
  $("add-grade").addEventListener("click", () => $("grade-rows").append(gradeRow()));
  $("add-category").addEventListener("click", () => {
    const body = $("category-rows");
    body.append(categoryRow({}, body.children.length));
  });
  $("add-task-type").addEventListener("click", () => $("task-type-rows").append(taskTypeRow()));
  // the settings part says when the companion is paired and reachable (options.js)
  document.addEventListener("companion-ready", load);
  ask(MSG.CONNECTION)
    .then(({ paired }) => (paired ? load() : undefined))
    .catch(() => undefined);
}

init();
