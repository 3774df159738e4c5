// Service worker entry: wires Chrome events to the router and the job poller.
// Listeners are registered synchronously at the top level, as MV3 requires.
import { handleMessage } from "./router.js";
import { ensureAlarm, POLL_ALARM, pollOnce } from "./jobs.js";
import { openNotification, pollNotifications } from "./notifications.js";

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  // Only our own pages talk to the worker (no externally_connectable, no content scripts).
  if (sender.id !== chrome.runtime.id) return false;
  handleMessage(message).then(sendResponse);
  return true; // the reply is asynchronous
});

chrome.runtime.onInstalled.addListener(async ({ reason }) => {
  if (reason === "install") {
    // Errors that happened before the extension existed are not "new" to the staff.
    await chrome.storage.local.set({ errorsSeenAt: new Date().toISOString() });
  }
  await ensureAlarm();
  await pollOnce();
  await pollNotifications();
});

chrome.runtime.onStartup.addListener(async () => {
  await ensureAlarm();
  await pollOnce();
  await pollNotifications();
});

chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === POLL_ALARM) {
    pollOnce();
    pollNotifications();
  }
});

chrome.notifications.onClicked.addListener((id) => {
  openNotification(id);
});
