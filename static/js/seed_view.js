// Rendered / raw switch of a text (core/templates/core/_text_view.html). The radios switch the
// views with CSS alone; this module remembers the choice per browser for the boxes marked
// data-remember="<kind>" (the seed and its answer on every page that shows them) and applies it
// to every box of that kind on the page, now and whenever the choice changes.
const PREFIX = "codearena:text-view:";
const VIEWS = new Set(["rendered", "raw"]);

function stored(kind) {
  try {
    return localStorage.getItem(PREFIX + kind);
  } catch {
    return null; // storage blocked: every page starts rendered
  }
}

function store(kind, view) {
  try {
    localStorage.setItem(PREFIX + kind, view);
  } catch {
    // storage blocked or full: the choice lasts for this page only
  }
}

function show(kind, view) {
  for (const box of document.querySelectorAll(".text-view[data-remember]")) {
    if (box.dataset.remember !== kind) continue;
    const radio = [...box.querySelectorAll("input[type=radio]")].find((r) => r.value === view);
    if (radio) radio.checked = true;
  }
}

const kinds = new Set(
  [...document.querySelectorAll(".text-view[data-remember]")].map((box) => box.dataset.remember),
);
for (const kind of kinds) {
  const view = stored(kind);
  if (VIEWS.has(view)) show(kind, view);
}

document.addEventListener("change", (event) => {
  const radio = event.target;
  const box = radio instanceof HTMLInputElement ? radio.closest(".text-view[data-remember]") : null;
  if (!box || !VIEWS.has(radio.value)) return;
  store(box.dataset.remember, radio.value);
  show(box.dataset.remember, radio.value);
});
