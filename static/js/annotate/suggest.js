// The model suggestion panel: ask the campaign's model for a draft of the rewrite and its tags,
// watch it arrive (a stream of JSON lines), then insert it into the editor or discard it.
// Discarding while it arrives stops the request (the server records the call as abandoned).
// Inserting records the suggestion's id in the draft (sent with the next autosave) and fills
// only the tags that are still empty. The text is shown with textContent, never as HTML. An
// error is shown as the server words it; nothing else on the page waits for the model. The
// panel is open unless the annotator closed it (remembered per campaign in this browser).
import { $, csrf, withRetry } from "./dom.js";
import { changed } from "./autosave.js";
import { schedulePreview } from "./preview.js";
import { renderChips } from "./tags.js";

const NDJSON = "application/x-ndjson";

function discardedKey(page) {
  return "codearena:suggestion-discarded:" + page.config.assignment;
}

function panelKey(page) {
  return "codearena:suggestion-panel:" + page.config.campaign;
}

function remember(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch (err) {
    /* storage disabled: it lasts for this page only */
  }
}

function recall(key) {
  try {
    return localStorage.getItem(key);
  } catch (err) {
    return null;
  }
}

function say(ui, text) {
  ui.status.textContent = text;
}

function fail(ui, text) {
  ui.error.textContent = text;
  say(ui, "");
}

function label(suggestion) {
  return (
    `Suggested by a model (${suggestion.model}, prompt ${suggestion.prompt_version}) ` +
    "\u2014 check it and make it your own"
  );
}

function tagsText(suggestion) {
  const parts = [];
  if (suggestion.difficulty) parts.push("difficulty: " + suggestion.difficulty);
  if (suggestion.programming_languages.length) {
    parts.push("languages: " + suggestion.programming_languages.join(", "));
  }
  return parts.length ? "Suggested tags \u2014 " + parts.join("; ") : "No tags suggested.";
}

// A suggestion being written: its text so far, no tags, nothing to insert yet.
function showStreaming(ui, model) {
  ui.current = null;
  ui.box.hidden = false;
  ui.label.textContent = `Being written by a model (${model}) \u2014 check it and make it your own`;
  ui.text.textContent = "";
  ui.tags.textContent = "";
  ui.insert.disabled = true;
}

function showSuggestion(page, ui, suggestion) {
  ui.current = suggestion;
  ui.box.hidden = false;
  ui.label.textContent = label(suggestion);
  ui.text.textContent = suggestion.text;
  ui.tags.textContent = tagsText(suggestion);
  ui.insert.disabled = !page.config.editable;
}

async function readLines(response, onLine) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (line.trim()) onLine(JSON.parse(line));
    }
  }
  buffer += decoder.decode();
  if (buffer.trim()) onLine(JSON.parse(buffer));
}

async function ask(page, ui) {
  const model = page.config.assist.model || "the model";
  const previous = ui.current;
  // Discard aborts this request; nothing it would still do may show after that.
  const controller = new AbortController();
  ui.asking = { controller: controller, previous: previous };
  const stopped = () => controller.signal.aborted;
  // An unfinished text cannot be inserted: back to the suggestion shown before, if any.
  const giveUp = function (message) {
    if (stopped()) return;
    if (previous) showSuggestion(page, ui, previous);
    else ui.box.hidden = true;
    fail(ui, message);
  };
  ui.button.disabled = true;
  ui.error.textContent = "";
  say(ui, `Asking ${model}\u2026`);
  let finished = false;
  try {
    const res = await fetch(page.config.urls.suggestion + "?stream=1", {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: NDJSON + ", application/json", "X-CSRFToken": csrf() },
      signal: controller.signal,
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      if (stopped()) return;
      const wait = Number(res.headers.get("Retry-After"));
      fail(ui, withRetry(body.detail || `The suggestion failed (error ${res.status}).`, wait));
      return;
    }
    showStreaming(ui, model);
    const onEvent = function (event) {
      if (stopped()) return;
      if (event.delta) {
        ui.text.textContent += event.delta;
      } else if (event.suggestion) {
        finished = true;
        showSuggestion(page, ui, event.suggestion);
        say(ui, "Suggestion ready: read it, then insert it or discard it.");
      } else if (event.error) {
        finished = true;
        giveUp(withRetry(event.error.detail || "The suggestion failed.", event.error.retry_after));
      }
    };
    if ((res.headers.get("Content-Type") || "").startsWith(NDJSON)) {
      await readLines(res, onEvent);
    } else {
      onEvent({ suggestion: await res.json() });
    }
    if (!finished) giveUp("The model's answer was cut off; try again.");
  } catch (err) {
    // Stopped by Discard: the panel stays as Discard left it.
    giveUp("Cannot reach the server; try again. Your draft is not affected.");
  } finally {
    if (ui.asking && ui.asking.controller === controller) ui.asking = null;
    if (!ui.asking) ui.button.disabled = false; // unless Discard let a new request start
  }
}

// Discard: the suggestion shown, or the one being written (its request is stopped, and the
// one shown before it goes too, so a reload shows what the panel shows now).
function discard(page, ui) {
  const asking = ui.asking;
  const gone = ui.current || (asking && asking.previous);
  if (gone) remember(discardedKey(page), String(gone.id));
  if (asking) {
    ui.asking = null;
    asking.controller.abort();
    ui.button.disabled = false;
  }
  ui.current = null;
  ui.box.hidden = true;
  ui.error.textContent = "";
  say(ui, (asking ? "Stopped and discarded." : "Discarded.") + " Ask again or write your own.");
  ui.button.focus();
}

function insert(page, ui) {
  const suggestion = ui.current;
  if (!suggestion || !page.config.editable) return;
  if (page.conflict) {
    fail(ui, "Choose a version of your draft first (see the conflict above).");
    return;
  }
  const editor = page.el.text;
  if (
    editor.value.trim() &&
    editor.value !== suggestion.text &&
    !window.confirm("Replace the text in the editor with the model's suggestion?")
  ) {
    return;
  }
  editor.value = suggestion.text;
  page.suggestion = suggestion.id;
  // Tags the annotator already chose stay as they are.
  if (!document.querySelector("input[name=difficulty]:checked") && suggestion.difficulty) {
    const radio = document.querySelector(
      `input[name=difficulty][value="${CSS.escape(suggestion.difficulty)}"]`,
    );
    if (radio) radio.checked = true;
  }
  if (!page.languages.length) {
    suggestion.programming_languages.forEach(function (name) {
      const known = page.byKey.get(String(name).toLowerCase());
      if (known && !page.languages.includes(known)) page.languages.push(known);
    });
    renderChips(page);
  }
  ui.error.textContent = "";
  say(ui, "Inserted into the editor. Edit it until it is your question.");
  changed(page);
  schedulePreview(page);
  editor.focus();
}

export function bindSuggest(page) {
  const assist = page.config.assist;
  if (!assist || !$("assist")) return;
  const ui = {
    current: null,
    asking: null, // the request being answered: { controller, previous }
    button: $("suggest"),
    status: $("suggest-status"),
    error: $("suggest-error"),
    box: $("suggestion"),
    label: $("suggestion-label"),
    text: $("suggestion-text"),
    tags: $("suggestion-tags"),
    insert: $("suggestion-insert"),
  };
  ui.button.addEventListener("click", () => ask(page, ui));
  // Rendered disabled, so a click before this script ran is not silently lost.
  ui.button.disabled = false;
  ui.button.removeAttribute("title");
  ui.insert.addEventListener("click", () => insert(page, ui));
  $("suggestion-discard").addEventListener("click", () => discard(page, ui));
  // The latest suggestion, again after a reload (unless it was discarded here).
  const latest = assist.suggestion;
  const shown = latest && String(latest.id) !== recall(discardedKey(page));
  if (shown) {
    showSuggestion(page, ui, latest);
    if (page.config.draft.suggestion === latest.id) say(ui, "This suggestion is in your draft.");
  }
  // Rendered open; closed again if the annotator closed it before, unless there is a
  // suggestion to read.
  const panel = $("assist");
  if (!shown && recall(panelKey(page)) === "closed") panel.open = false;
  panel.addEventListener("toggle", () => remember(panelKey(page), panel.open ? "open" : "closed"));
}
