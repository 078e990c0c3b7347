// The colour theme: "light", "dark" or "system" (the default: follow prefers-color-scheme),
// remembered in localStorage. Loaded without defer in <head> (templates/base.html) so that
// <html data-theme> is set before the body is drawn: no flash of the other theme. The theme
// menu in the top bar (#theme-choice) is wired once the document is parsed.
(() => {
  const KEY = "codearena:theme";
  const CHOICES = ["system", "light", "dark"];
  const root = document.documentElement;
  const systemDark = window.matchMedia("(prefers-color-scheme: dark)");
  let memory = "system"; // when storage is unavailable (private mode, blocked cookies)

  function stored() {
    try {
      const value = window.localStorage.getItem(KEY);
      return CHOICES.includes(value) ? value : "system";
    } catch {
      return memory;
    }
  }

  function remember(choice) {
    memory = choice;
    try {
      if (choice === "system") window.localStorage.removeItem(KEY);
      else window.localStorage.setItem(KEY, choice);
    } catch {
      // kept in memory for this page only
    }
  }

  function apply() {
    const choice = stored();
    const dark = choice === "dark" || (choice === "system" && systemDark.matches);
    root.dataset.theme = dark ? "dark" : "light";
    root.dataset.themeChoice = choice;
    const menu = document.getElementById("theme-choice");
    if (menu) menu.value = choice;
  }

  apply();
  systemDark.addEventListener("change", apply);
  // Another tab changed the choice.
  window.addEventListener("storage", (event) => {
    if (event.key === KEY || event.key === null) apply();
  });
  document.addEventListener("DOMContentLoaded", () => {
    const menu = document.getElementById("theme-choice");
    if (!menu) return;
    menu.value = stored();
    menu.addEventListener("change", () => {
      remember(CHOICES.includes(menu.value) ? menu.value : "system");
      apply();
    });
  });
})();
