// The toolbar badge: "×" while the companion does not answer, "!" for errors the staff has not
// seen yet, else the number of running jobs.
import { t } from "../common/i18n.js";

const ERROR_COLOR = "#c5221f";
const RUNNING_COLOR = "#1a73e8";

export async function showBadge({ running = 0, unseen = 0, down = false } = {}) {
  let text = "";
  let color = RUNNING_COLOR;
  let title = t("actionTitle");
  if (down) {
    text = "×";
    color = ERROR_COLOR;
    title = t("badgeTitleDown");
  } else if (unseen > 0) {
    text = "!";
    color = ERROR_COLOR;
    title = t("badgeTitleErrors", [String(unseen)]);
  } else if (running > 0) {
    text = running > 99 ? "99+" : String(running);
    title = t("badgeTitleRunning", [String(running)]);
  }
  await Promise.all([
    chrome.action.setBadgeText({ text }),
    chrome.action.setBadgeBackgroundColor({ color }),
    chrome.action.setTitle({ title }),
  ]);
}

export async function readBadge() {
  return chrome.action.getBadgeText({});
}
