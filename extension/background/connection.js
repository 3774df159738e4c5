// Where the companion is, and what pairing gave: the token, and the key the companion proves
// itself with (keyId, proofKey). Only these (plus job-watching state) live in
// chrome.storage.local; settings and secrets stay in the companion.
import { DEFAULT_COMPANION_URL } from "../common/protocol.js";
import { normalizeCompanionUrl } from "../common/validate.js";

const PAIRING_KEYS = ["token", "keyId", "proofKey"];

export async function getConnection() {
  const stored = await chrome.storage.local.get(["companionUrl", ...PAIRING_KEYS]);
  // an address saved by an older version (localhost) is read as 127.0.0.1
  const url = normalizeCompanionUrl(stored.companionUrl || DEFAULT_COMPANION_URL);
  // a token without a proof key (paired before the companion could prove itself) is never sent
  const complete = Boolean(stored.token && stored.keyId && stored.proofKey);
  return {
    baseUrl: url.ok ? url.value : DEFAULT_COMPANION_URL,
    token: complete ? stored.token : null,
    keyId: complete ? stored.keyId : null,
    proofKey: complete ? stored.proofKey : null,
  };
}

export async function saveConnection(baseUrl, { token, key_id: keyId, proof_key: proofKey }) {
  await chrome.storage.local.set({ companionUrl: baseUrl, token, keyId, proofKey });
}

export async function forgetPairing() {
  await chrome.storage.local.remove(PAIRING_KEYS);
}
