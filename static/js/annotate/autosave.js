// Saving the draft to the server: a debounced save queue (one request at a time, versioned),
// the state indicator (saved / saving / unsaved / offline / conflict / error, and "Saved" only
// once the server confirmed exactly this content), offline retries, and a keepalive save when
// the page is hidden or left.
import { csrf } from "./dom.js";
import { content, read, updateMissing } from "./form.js";
import { forgetLocally, keepLocally } from "./store.js";
import { showConflict } from "./conflict.js";

const KEEPALIVE_LIMIT = 60000; // Chromium refuses keepalive bodies over 64 KB
const SAVE_DELAY = 1500;

// --- state indicator -----------------------------------------------------------------------
export function setState(page, state, label) {
  page.el.state.dataset.state = state;
  page.el.state.textContent = label;
}

export function showUnsaved(page) {
  if (page.conflict) return;
  if (page.offline) setState(page, "offline", "Offline · changes kept on this device");
  else setState(page, "dirty", "Unsaved changes");
}

// --- saving --------------------------------------------------------------------------------
export function changed(page) {
  if (!page.config.editable) return;
  keepLocally(page);
  updateMissing(page);
  if (content(page, read(page)) === page.lastSaved) {
    if (!page.saving && !page.conflict && !page.offline) {
      // Back to what the server holds: "Saved" only if the server holds a draft at all.
      setState(page, "saved", page.version ? "Saved" : "Nothing to save yet");
      forgetLocally(page);
    }
    return;
  }
  showUnsaved(page);
  clearTimeout(page.saveTimer);
  page.saveTimer = setTimeout(() => save(page), SAVE_DELAY);
}

export function save(page, options) {
  clearTimeout(page.saveTimer);
  if (!page.config.editable || page.conflict) return Promise.resolve(false);
  if (content(page, read(page)) === page.lastSaved) return Promise.resolve(true);
  if (page.saving) {
    page.again = true;
    return page.inflight;
  }
  page.inflight = send(page, options);
  return page.inflight;
}

// A draft as the server keeps it: a save without a suggestion keeps the stored one (provenance
// is sticky), so `null` sent over a recorded suggestion still means that suggestion.
function withKeptSuggestion(draft, stored) {
  const suggestion = draft.suggestion ?? stored.suggestion ?? null;
  return Object.assign({}, draft, { suggestion: suggestion });
}

async function send(page, options) {
  const draft = read(page);
  const body = JSON.stringify(Object.assign({}, draft, { version: page.version }));
  const keepalive = Boolean(options && options.keepalive) && body.length < KEEPALIVE_LIMIT;
  page.saving = true;
  setState(page, "saving", "Saving…");
  try {
    const res = await fetch(page.config.urls.draft, {
      method: "PUT",
      credentials: "same-origin",
      keepalive: keepalive,
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrf(),
      },
      body: body,
    });
    const reply = await res.json().catch(() => ({}));
    page.offline = false;
    clearInterval(page.retryTimer);
    if (
      res.status === 409 &&
      reply.current &&
      content(page, reply.current) === content(page, withKeptSuggestion(draft, reply.current))
    ) {
      // The newer version holds exactly this content (a save from before a reload, say):
      // nothing to choose between.
      reply.version = reply.current.version;
      reply.suggestion = reply.current.suggestion;
    } else if (res.status === 409 && reply.current) {
      // Everything typed so far, not just what was sent.
      showConflict(page, read(page), reply.current);
      return false;
    } else if (!res.ok) {
      setState(page, "error", "Not saved: " + (reply.detail || "error " + res.status));
      return false;
    }
    page.version = reply.version;
    // The server keeps a recorded suggestion whatever was sent: hold what it holds (unless
    // another one was inserted meanwhile, which the next save sends).
    Object.assign(draft, withKeptSuggestion(draft, reply));
    if (page.suggestion == null) page.suggestion = draft.suggestion;
    page.lastSaved = content(page, draft);
    if (content(page, read(page)) === page.lastSaved) {
      setState(page, "saved", "Saved");
      forgetLocally(page);
    } else {
      showUnsaved(page);
      page.saveTimer = setTimeout(() => save(page), SAVE_DELAY);
    }
    return true;
  } catch (err) {
    if (keepalive) keepLocally(page); // the page is going away; the local copy is what remains
    else goOffline(page);
    return false;
  } finally {
    page.saving = false;
    if (page.again) {
      page.again = false;
      setTimeout(() => save(page), 0);
    }
  }
}

function goOffline(page) {
  page.offline = true;
  keepLocally(page);
  setState(page, "offline", "Offline · changes kept on this device");
  clearInterval(page.retryTimer);
  page.retryTimer = setInterval(function () {
    if (navigator.onLine) save(page);
  }, 5000);
}

export function bindAutosave(page) {
  window.addEventListener("offline", function () {
    if (!page.config.editable) return;
    page.offline = true;
    keepLocally(page);
    if (!page.conflict) setState(page, "offline", "Offline · changes kept on this device");
  });
  window.addEventListener("online", function () {
    if (!page.config.editable) return;
    page.offline = false;
    if (content(page, read(page)) !== page.lastSaved) {
      showUnsaved(page);
      save(page);
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") save(page, { keepalive: true });
  });
  window.addEventListener("pagehide", () => save(page, { keepalive: true }));
}
