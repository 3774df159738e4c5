// The popup's most urgent lines: items sold at the register whose 早期終了 Yahoo refused (bids, or
// already won). Shown at the top, in red, until the auction has ended (see /status early_end_blocked).
import { pickServerText, t, uiLang } from "../common/i18n.js";
import { formatTime } from "../ui/messaging.js";

function blockedItem(item) {
  const line = document.createElement("li");
  const name = document.createElement("span");
  name.className = "item-name";
  name.textContent = t("blockedItem", [item.management_number ?? "?", item.auction_id ?? "?"]);
  const time = document.createElement("time");
  time.textContent = formatTime(item.at, uiLang());
  const what = document.createElement("p");
  what.className = "blocked-message";
  what.textContent = pickServerText(item);
  line.append(name, " ", time, what);
  return line;
}

export function renderBlocked(items) {
  document.getElementById("blocked").replaceChildren(...items.map(blockedItem));
  document.getElementById("blocked-section").hidden = items.length === 0;
}
