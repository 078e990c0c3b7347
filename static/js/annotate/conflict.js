// Conflicts: when the server holds a newer version than the one this tab edited (another tab,
// or a copy left on this device), freeze the form, show both versions and let the annotator
// keep one of them. Nothing is saved until they chose.
import { $ } from "./dom.js";
import { content, fill, read, updateMissing } from "./form.js";
import { forgetLocally, keepLocally } from "./store.js";
import { save, setState } from "./autosave.js";
import { schedulePreview } from "./preview.js";

function freeze(page, frozen) {
  page.el.text.readOnly = frozen || !page.config.editable;
  document.querySelector(".tags").disabled = frozen || !page.config.editable;
}

export function showConflict(page, mine, theirs) {
  // The whole of "mine", marked as undecided (base -1), so that a reload asks again
  // instead of quietly saving it over the other version.
  keepLocally(page, mine, -1);
  page.conflict = { mine: mine, theirs: theirs };
  freeze(page, true);
  setState(page, "conflict", "Conflict · choose a version");
  $("conflict-version").textContent = theirs.version;
  $("conflict-mine").textContent = mine.text;
  $("conflict-theirs").textContent = theirs.text;
  $("conflict").hidden = false;
  $("conflict").scrollIntoView({ block: "center" });
}

export function bindConflict(page) {
  $("keep-mine").addEventListener("click", function () {
    const mine = page.conflict.mine;
    page.version = page.conflict.theirs.version; // a deliberate overwrite of the newer version
    page.conflict = null;
    freeze(page, false);
    $("conflict").hidden = true;
    fill(page, mine); // the whole draft: text and tags
    page.lastSaved = null;
    keepLocally(page);
    updateMissing(page);
    schedulePreview(page);
    save(page);
  });
  $("keep-theirs").addEventListener("click", function () {
    const theirs = page.conflict.theirs;
    page.version = theirs.version;
    page.conflict = null;
    freeze(page, false);
    $("conflict").hidden = true;
    fill(page, theirs);
    page.lastSaved = content(page, read(page));
    forgetLocally(page);
    setState(page, "saved", "Saved");
    updateMissing(page);
    schedulePreview(page);
  });
}
