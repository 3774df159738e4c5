// Whether the companion answers, as staff see it without opening the popup: while it is down the
// badge says so, and one Chrome notification is shown when it goes down and one when it is back
// (the state is kept in chrome.storage.local, so a restarted worker does not say it again).
import { t } from "../common/i18n.js";

export const DOWN_ID = "recore-companion-down";
export const BACK_ID = "recore-companion-back";

function notice(title, message) {
  return {
    type: "basic",
    iconUrl: chrome.runtime.getURL("icons/icon128.png"),
    title,
    message,
    priority: 1,
  };
}

/** The companion answered (`up`) or not; shows a notification when that changed. */
export async function noteCompanion(up) {
  const { companionDown = false } = await chrome.storage.local.get("companionDown");
  if (up === !companionDown) return; // no change: nothing said again
  await chrome.storage.local.set({ companionDown: !up });
  if (up) {
    await chrome.notifications.clear(DOWN_ID);
    await chrome.notifications.create(BACK_ID, notice(t("companionBackTitle"), t("companionBackText")));
  } else {
    await chrome.notifications.clear(BACK_ID);
    await chrome.notifications.create(DOWN_ID, notice(t("companionDownTitle"), t("companionDownText")));
  }
}

export async function companionIsDown() {
  const { companionDown = false } = await chrome.storage.local.get("companionDown");
  return companionDown;
}
