// The companion's native messaging host (companion/native_host.py), registered by
// `recore-connector setup`: Chrome starts it, checks this extension's id against the host's
// manifest, and the host starts the companion when it is not answering and, when asked, pairs
// this extension — no terminal, no code. Without a registered host the calls here resolve with
// {ok: false, code: "NO_HOST"} and the 8-digit pairing code on the options page is the way.
import { COMPANION_HOST } from "../common/protocol.js";
import { saveConnection } from "./connection.js";

export const NATIVE_HOST = "jp.recore_connector.companion";

const inFlight = new Map(); // pair (true/false) → the pending request

function validPort(port) {
  return Number.isInteger(port) && port > 0 && port < 65536;
}

async function connect(pair) {
  let reply;
  try {
    reply = await chrome.runtime.sendNativeMessage(NATIVE_HOST, { type: "connect", pair });
  } catch (err) {
    // "Specified native messaging host not found." and the like: no host registered here
    return { ok: false, code: "NO_HOST", message: String(err?.message || err) };
  }
  if (!reply?.ok || !validPort(reply.port)) return { ...reply, ok: false, code: reply?.code || "NO_HOST" };
  const baseUrl = `http://${COMPANION_HOST}:${reply.port}`;
  const { token, key_id: keyId, proof_key: proofKey } = reply.pairing ?? {};
  if (token && keyId && proofKey) await saveConnection(baseUrl, reply.pairing);
  else await chrome.storage.local.set({ companionUrl: baseUrl });
  return reply;
}

/**
 * Ask the host to make sure the companion answers (and to pair this extension when `pair`).
 * Requests that start together share one host run. Never rejects.
 * @returns {Promise<{ok: boolean, code?: string, message?: string, started?: boolean}>}
 */
export function connectThroughHost({ pair = false } = {}) {
  let request = inFlight.get(pair);
  if (!request) {
    request = connect(pair).finally(() => inFlight.delete(pair));
    inFlight.set(pair, request);
  }
  return request;
}
