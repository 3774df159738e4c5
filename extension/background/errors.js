// Turns any failure into what the pages show: a sentence and, where we know it, what to do next.
import { pickServerText, t, uiLang } from "../common/i18n.js";
import { CompanionError } from "./companion.js";

// Error codes for which we know the next step better than a generic hint.
const HINTS = {
  COMPANION_DOWN: "hintCompanionDown",
  COMPANION_TIMEOUT: "hintCompanionTimeout",
  COMPANION_UNVERIFIED: "hintCompanionUnverified",
  UNKNOWN_PAIRING: "hintPair",
  NOT_PAIRED: "hintPair",
  UNAUTHORIZED: "hintPair",
  ORIGIN_NOT_ALLOWED: "hintPair",
  PAIRING_LOCKED: "hintPairingLocked",
  VALIDATION_FAILED: "hintValidation",
  NOTHING_VALID: "hintNothingValid",
};

/** @returns {{code: string, text: string, hint: string, fields: object|null, status: number, batch?: object|null}} */
export function describeError(err, conn) {
  if (err instanceof CompanionError) {
    const code = err.code;
    let text = pickServerText({ message: err.serverMessage, message_en: err.serverMessageEn });
    if (code === "COMPANION_DOWN") text = t("errCompanionDown", [err.baseUrl || conn?.baseUrl || ""]);
    else if (code === "COMPANION_TIMEOUT") text = t("errCompanionTimeout");
    else if (code === "COMPANION_UNVERIFIED") {
      text = t("errCompanionUnverified", [err.baseUrl || conn?.baseUrl || ""]);
    }
    else if (code === "NOT_PAIRED") text = t("errNotPaired");
    else if (code === "UNAUTHORIZED") text = t("errUnauthorized");
    else if (!text) text = t("errHttp", [String(err.status || code)]);
    const hintKey = HINTS[code];
    const fields = uiLang() === "ja" ? err.fields : (err.fieldsEn ?? err.fields);
    return { code, text, hint: hintKey ? t(hintKey) : "", fields, status: err.status, batch: err.batch };
  }
  const code = err?.code || "EXTENSION_ERROR";
  return {
    code,
    text: err?.text || t("errUnexpected", [String(err?.message || err)]),
    hint: err?.hint || "",
    fields: null,
    status: 0,
  };
}

/** An error raised by the worker itself, already translated. */
export function localError(code, textKey, hintKey = "", substitutions = undefined) {
  const error = new Error(code);
  error.code = code;
  error.text = t(textKey, substitutions);
  error.hint = hintKey ? t(hintKey) : "";
  return error;
}
