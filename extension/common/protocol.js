// Message names shared by the service worker and the extension pages.
// Every page → worker request is {type: MSG.X, ...}; every reply is
// {ok: true, data} or {ok: false, error: {code, text, hint, fields, status}}.
export const MSG = Object.freeze({
  POPUP_STATE: "popupState",
  STATUS: "status",
  JOB: "job",
  PAIR: "pair",
  UNPAIR: "unpair",
  LIST_PAIRINGS: "listPairings",
  REVOKE_PAIRING: "revokePairing",
  CONNECTION: "connection",
  GET_SETTINGS: "getSettings",
  PUT_SETTINGS: "putSettings",
  LIST_BATCHES: "listBatches",
  LIST_PENDING: "listPending",
  DOWNLOAD: "download",
  DIRECT_LISTING: "directListing",
  START_REGISTERED: "startRegistered",
  SYNC: "sync",
  LIST_ERRORS: "listErrors",
  MARK_SEEN: "markErrorsSeen",
  REFRESH_BADGE: "refreshBadge",
  GET_ALERTS: "getAlerts",
  PUT_ALERTS: "putAlerts",
  TEST_ALERT: "testAlert",
  HISTORY: "history",
  HISTORY_CSV: "historyCsv",
  POLL_NOTIFICATIONS: "pollNotifications",
  GET_TABLES: "getTables",
  PUT_TABLE: "putTable",
  DIAGNOSE: "diagnose",
  SUPPORT_BUNDLE: "supportBundle",
  // 確認モード: 実行 or スキップ of one write shown under 「これから実行する内容」
  DECIDE_CONFIRMATION: "decideConfirmation",
  COMPANION_STARTING: "companionStarting", // worker → popup: the native host is starting it
});

// What staff can answer to a write waiting in 確認モード (companion/confirmations.py).
export const CONFIRMATION_ACTIONS = Object.freeze(["approve", "skip"]);

// The shop's own tables the companion keeps (templates, grade and category tables, co-api aliases).
export const TABLE_NAMES = Object.freeze(["templates", "grades", "categories", "task_types", "order_statuses"]);

// The sync intervals in minutes, as the companion accepts them (companion/settings.py): 0 = off,
// 1 = the quick check every minute (the full sync then has its own interval, 5 minutes or more).
export const SYNC_INTERVALS = Object.freeze([0, 1, 5, 15, 30, 60, 180, 360, 720, 1440]);
export const FULL_SYNC_INTERVALS = Object.freeze([5, 15, 30, 60, 180, 360, 720, 1440]);

// Yahoo store status → ReCORE order status (rows of the mapping table, in display order).
export const YAHOO_STATUSES = Object.freeze(["未処理", "入金済み", "発送済み", "対応終了", "キャンセル"]);
export const RECORE_STATUSES = Object.freeze(["保留中", "未出荷", "出荷済み", "キャンセル済み"]);

// Secrets are write-only on the companion; they are never stored in the extension.
export const SECRET_FIELDS = Object.freeze(["recore_api_key", "yahoo_password", "business_password"]);

// The companion is reached on 127.0.0.1 only: `localhost` may resolve to ::1 first, where another
// program could answer.
export const DEFAULT_COMPANION_URL = "http://127.0.0.1:8765";
export const COMPANION_HOST = "127.0.0.1";
export const API_PREFIX = "/api/v1";
// The companion's answer to a challenge is HMAC-SHA256(proof key, PROOF_CONTEXT \n challenge \n
// host:port it was reached at); see companion/pairing.py.
export const PROOF_CONTEXT = "recore-connector proof v1";
// Who answers on the port: the companion's /health names itself so, and its API version (see
// companion/api_version.py). Every call carries this extension's API version in API_HEADER.
export const APP_NAME = "recore-connector";
export const API_VERSION = 1;
export const MIN_COMPANION_API = 1; // the oldest companion API this extension still works with
export const API_HEADER = "X-ReCORE-API";
