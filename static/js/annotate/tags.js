// Tag helpers: the campaign's programming languages as removable chips (typed names and aliases
// map to the vocabulary's names), one-click suggestions for programming and natural languages.
// The natural language and subcategory are plain selects; their changes reach autosave through
// the form's change events.
import { $ } from "./dom.js";
import { changed } from "./autosave.js";

// Fills page.byKey (lower-case name or alias -> vocabulary name) and the input's datalist.
export function loadVocabulary(page) {
  page.config.languages.forEach(function (lang) {
    page.byKey.set(lang.name.toLowerCase(), lang.name);
    (lang.aliases || []).forEach((alias) => page.byKey.set(String(alias).toLowerCase(), lang.name));
    const option = document.createElement("option");
    option.value = lang.name;
    $("language-options").appendChild(option);
  });
}

// --- suggestions (sent by the server with the preview) ---------------------------------------
function suggestionButton(label, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "suggestion";
  button.textContent = label;
  button.addEventListener("click", onClick);
  return button;
}

export function suggestLanguages(page, names) {
  const box = $("language-suggestions");
  box.replaceChildren();
  names
    .filter((name) => !page.languages.includes(name))
    .forEach((name) =>
      box.appendChild(suggestionButton("+ " + name, () => addLanguage(page, name))),
    );
}

export function suggestNatural(page, code) {
  const box = $("natural-suggestion");
  const naturalSelect = page.el.naturalSelect;
  box.replaceChildren();
  if (code && naturalSelect.value !== code && naturalSelect.querySelector(`option[value="${code}"]`)) {
    box.appendChild(
      suggestionButton("detected: " + code, function () {
        naturalSelect.value = code;
        box.replaceChildren();
        changed(page);
      }),
    );
  }
}

// --- programming languages -------------------------------------------------------------
export function renderChips(page) {
  page.el.chips.replaceChildren();
  page.languages.forEach(function (name) {
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.textContent = name;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.setAttribute("aria-label", "remove " + name);
    remove.textContent = "×";
    remove.disabled = !page.config.editable;
    remove.addEventListener("click", function () {
      page.languages = page.languages.filter((n) => n !== name);
      renderChips(page);
      changed(page);
    });
    chip.appendChild(remove);
    page.el.chips.appendChild(chip);
  });
}

function addLanguage(page, raw) {
  const name = page.byKey.get(String(raw).trim().toLowerCase());
  if (!name) {
    page.el.error.textContent = `"${raw}" is not in this campaign's language list.`;
    return;
  }
  page.el.error.textContent = "";
  if (!page.languages.includes(name)) page.languages.push(name);
  page.el.languageInput.value = "";
  renderChips(page);
  suggestLanguages(
    page,
    Array.from($("language-suggestions").children).map((b) => b.textContent.slice(2)),
  );
  changed(page);
}

export function bindTags(page) {
  const languageInput = page.el.languageInput;
  languageInput.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      if (languageInput.value.trim()) addLanguage(page, languageInput.value);
    }
  });
  languageInput.addEventListener("change", function () {
    if (page.byKey.has(languageInput.value.trim().toLowerCase())) {
      addLanguage(page, languageInput.value);
    }
  });
}
