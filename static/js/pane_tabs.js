// On narrow screens the two panes of the annotate and vote pages (seed | rewrite) become tabs,
// so the editor or the ballot is one tap away instead of below a long seed. On wide screens
// both panes show side by side and the tab list is hidden (static/css/app.css, same width).
//
// Markup: an element with data-pane-tabs holding a [role=tablist] of <button role=tab
// aria-controls=PANEL-ID aria-selected>; the panels get role=tabpanel only while they act as
// tabs. Keyboard: Left/Right move between tabs (and select), Home/End go to the ends.
const NARROW = window.matchMedia("(max-width: 1000px)");

function setUp(container) {
  const list = container.querySelector("[role=tablist]");
  const tabs = [...list.querySelectorAll("[role=tab]")];
  const panels = tabs.map((tab) => document.getElementById(tab.getAttribute("aria-controls")));
  let current = Math.max(
    0,
    tabs.findIndex((tab) => tab.getAttribute("aria-selected") === "true"),
  );

  function render() {
    const narrow = NARROW.matches;
    tabs.forEach((tab, i) => {
      const selected = i === current;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      const panel = panels[i];
      if (narrow) {
        panel.setAttribute("role", "tabpanel");
        panel.setAttribute("aria-labelledby", tab.id);
        panel.hidden = !selected;
      } else {
        panel.removeAttribute("role");
        panel.removeAttribute("aria-labelledby");
        panel.hidden = false;
      }
    });
    container.dataset.paneTabsActive = String(narrow);
  }

  function select(index, focus) {
    current = (index + tabs.length) % tabs.length;
    render();
    if (focus) tabs[current].focus();
    // The tab list sticks to the top while a long pane scrolls by: show the new pane from its
    // start rather than somewhere in its middle.
    const top = container.getBoundingClientRect().top;
    if (top < 0) window.scrollBy(0, top);
  }

  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(i, false));
    tab.addEventListener("keydown", (event) => {
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
      if (!(event.key in moves) || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      select(moves[event.key], true);
    });
  });
  NARROW.addEventListener("change", render);
  render();
}

document.querySelectorAll("[data-pane-tabs]").forEach(setUp);
