// The form <-> a draft: read the fields into a draft, fill them from one, reduce a draft to the
// content that decides "saved", and list what is still missing before submit. A draft also
// carries the id of the model suggestion inserted into it (`suggestion`, kept in page state).
import { renderChips } from "./tags.js";

export function read(page) {
  const checklist = {};
  document.querySelectorAll(".checklist input").forEach(function (box) {
    checklist[box.dataset.item] = box.checked;
  });
  const difficulty = document.querySelector("input[name=difficulty]:checked");
  return {
    text: page.el.text.value,
    difficulty: difficulty ? difficulty.value : "",
    programming_languages: page.languages.slice(),
    natural_language: page.el.naturalSelect.value,
    subcategory: page.el.subcategorySelect.value,
    checklist: checklist,
    suggestion: page.suggestion ?? null,
  };
}

export function fill(page, draft) {
  page.el.text.value = draft.text || "";
  document.querySelectorAll("input[name=difficulty]").forEach(function (radio) {
    radio.checked = radio.value === draft.difficulty;
  });
  page.languages = (draft.programming_languages || []).map(
    (n) => page.byKey.get(n.toLowerCase()) || n,
  );
  renderChips(page);
  page.el.naturalSelect.value = draft.natural_language || "";
  page.el.subcategorySelect.value = draft.subcategory || "";
  document.querySelectorAll(".checklist input").forEach(function (box) {
    box.checked = Boolean((draft.checklist || {})[box.dataset.item]);
  });
  page.suggestion = draft.suggestion ?? null;
}

export function content(page, draft) {
  return JSON.stringify([
    draft.text,
    draft.difficulty,
    draft.programming_languages,
    draft.natural_language,
    draft.subcategory,
    page.config.checklist.map((item) => Boolean((draft.checklist || {})[item])),
    draft.suggestion ?? null,
  ]);
}

// --- what is missing before submit ---------------------------------------------------------
export function missing(page) {
  const draft = read(page);
  const out = [];
  if (!draft.text.trim()) out.push("write the rewrite");
  if (!draft.difficulty) out.push("choose a difficulty");
  if (!draft.programming_languages.length) out.push("add at least one programming language");
  if (!draft.natural_language) out.push("choose the natural language");
  if (!draft.subcategory) out.push("choose a subcategory");
  page.config.checklist.forEach(function (item) {
    if (!draft.checklist[item]) out.push(`confirm "${item}"`);
  });
  return out;
}

export function updateMissing(page) {
  const items = missing(page);
  const submitButton = page.el.submit;
  page.el.missing.replaceChildren();
  items.forEach(function (item) {
    const li = document.createElement("li");
    li.textContent = item;
    page.el.missing.appendChild(li);
  });
  submitButton.disabled = !page.config.editable || items.length > 0;
  submitButton.title = items.length ? "Still missing: " + items.join(", ") : "Submit for review";
}
