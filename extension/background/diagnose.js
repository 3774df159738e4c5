// Page → worker request of the options page's 「接続診断」: the companion reads ReCORE and the
// store (GET only) and answers with the Japanese summary and where the zip for support is.
import { MSG } from "../common/protocol.js";
import { callCompanion, CompanionError } from "./companion.js";
import { getConnection } from "./connection.js";

// the diagnosis opens every store page once: allow it more than an ordinary call
const DIAGNOSE_TIMEOUT_MS = 180000;

export const diagnoseHandlers = {
  async [MSG.DIAGNOSE]() {
    const conn = await getConnection();
    if (!conn.token) throw new CompanionError({ code: "NOT_PAIRED" });
    return callCompanion(conn, "POST", "/diagnose", { timeoutMs: DIAGNOSE_TIMEOUT_MS });
  },
};
