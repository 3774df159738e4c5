// Where the companion is and the pairing token. Only these two values (plus job-watching state)
// live in chrome.storage.local; settings and secrets stay in the companion.
import { DEFAULT_COMPANION_URL } from "../common/protocol.js";

export async function getConnection() {
  const { companionUrl, token } = await chrome.storage.local.get(["companionUrl", "token"]);
  return { baseUrl: companionUrl || DEFAULT_COMPANION_URL, token: token || null };
}

export async function saveConnection(baseUrl, token) {
  await chrome.storage.local.set({ companionUrl: baseUrl, token });
}

export async function forgetToken() {
  await chrome.storage.local.remove("token");
}
