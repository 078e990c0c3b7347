// The annotate page: autosave with a truthful state indicator, offline safety, conflict
// resolution, live preview and token count from the server, tag helpers, submit / reject and
// keyboard shortcuts. No framework: the page is server-rendered and this enhances it.
//
// This entry reads the page's config, builds the one state object the modules share (`page`,
// passed to every function) and wires the modules. Some modules import each other (a save can
// end in a conflict, resolving one saves): that is safe because no module runs anything when
// imported; everything starts from here, once all of them are loaded.
import { $ } from "./dom.js";
import { content, fill, read, updateMissing } from "./form.js";
import { forgetLocally, openStore, storedCopy } from "./store.js";
import { bindAutosave, changed, save, setState, showUnsaved } from "./autosave.js";
import { bindConflict, showConflict } from "./conflict.js";
import { preview, schedulePreview } from "./preview.js";
import { bindTags, loadVocabulary } from "./tags.js";
import { bindActions } from "./actions.js";
import { bindShortcuts } from "./shortcuts.js";
import { bindSuggest } from "./suggest.js";

const config = JSON.parse($("annotate-config").textContent);
const page = {
  config: config,
  store: openStore(config.assignment), // this tab's localStorage key and the page's prefix
  el: {
    text: $("rewrite-text"),
    state: $("save-state"),
    chips: $("language-chips"),
    languageInput: $("language-input"),
    naturalSelect: $("natural-language"),
    subcategorySelect: $("subcategory"),
    submit: $("submit"),
    missing: $("missing"),
    error: $("action-error"),
  },
  byKey: new Map(), // lower-case name or alias -> vocabulary name
  version: config.draft.version,
  lastSaved: null, // JSON of the content the server holds at `version`
  languages: [],
  suggestion: null, // id of the model suggestion inserted into the draft (sent with each save)
  saving: false,
  inflight: Promise.resolve(true),
  again: false,
  previewSeq: 0,
  conflict: null,
  offline: false,
  saveTimer: null,
  previewTimer: null,
  retryTimer: null,
};

loadVocabulary(page);
bindAutosave(page);
bindConflict(page);
bindTags(page);
bindActions(page);
bindShortcuts(page);
bindSuggest(page);

["input", "change"].forEach(function (type) {
  document.querySelector(".tags").addEventListener(type, function (event) {
    if (event.target !== page.el.languageInput) changed(page);
  });
});
page.el.text.addEventListener("input", function () {
  changed(page);
  schedulePreview(page);
});

// --- start: the server's draft, unless this device holds newer unsaved work --------------------
fill(page, config.draft);
page.lastSaved = content(page, read(page));
const stored = storedCopy(page);
if (config.editable && stored && stored.draft && content(page, stored.draft) !== page.lastSaved) {
  if (stored.base === page.version) {
    fill(page, stored.draft); // typed here but never saved (offline, closed tab): carry on
    showUnsaved(page);
    page.saveTimer = setTimeout(() => save(page), 200);
  } else {
    showConflict(page, stored.draft, Object.assign({}, config.draft));
  }
} else if (config.editable) {
  forgetLocally(page);
}
// The server renders "not loaded" so a page whose script failed never claims to be saved.
if (config.editable && page.el.state.dataset.state === "loading") {
  setState(page, "saved", page.version ? "Saved" : "Nothing to save yet");
}
updateMissing(page);
preview(page);
