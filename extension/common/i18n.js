// chrome.i18n wrappers usable from the service worker and from pages.

/** Translated message for `key`, or the key itself so a missing entry is visible, not blank. */
export function t(key, substitutions) {
  const text = chrome.i18n.getMessage(key, substitutions);
  return text || key;
}

/** "ja" or "en": which catalogue Chrome picked (each catalogue names itself in "lang"). */
export function uiLang() {
  return chrome.i18n.getMessage("lang") || "ja";
}

/** The companion sends `message` (Japanese, for staff) and `message_en`; pick the UI's language. */
export function pickServerText(obj) {
  if (!obj) return "";
  if (typeof obj === "string") return obj;
  if (uiLang() === "ja") return obj.message || obj.message_en || "";
  return obj.message_en || obj.message || "";
}

/** Fill every data-i18n* attribute under `root` (pages only). */
export function localize(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  if (root === document) {
    document.documentElement.lang = uiLang();
    const title = document.querySelector("title[data-i18n]");
    if (title) document.title = title.textContent;
  }
}
