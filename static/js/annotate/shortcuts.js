// Keyboard shortcuts: Ctrl/Cmd+S save, Ctrl/Cmd+Enter submit, Alt+R reject, Alt+K skip,
// Alt+G guidelines, Alt+1/2/3 difficulty.
import { changed, save } from "./autosave.js";
import { openGuidelines, openReject, openSkip, submit } from "./actions.js";

export function bindShortcuts(page) {
  document.addEventListener("keydown", function (event) {
    // A dialog handles its own keys (Esc closes it); page shortcuts wait until it is closed.
    if (document.querySelector("dialog[open]")) return;
    const mod = event.ctrlKey || event.metaKey;
    // event.code, not event.key: on macOS, Option+R types "®".
    if (mod && event.code === "KeyS") {
      event.preventDefault();
      save(page);
    } else if (mod && event.key === "Enter") {
      event.preventDefault();
      submit(page);
    } else if (event.altKey && event.code === "KeyR") {
      event.preventDefault();
      openReject(page);
    } else if (event.altKey && event.code === "KeyK") {
      event.preventDefault();
      openSkip(page);
    } else if (event.altKey && event.code === "KeyG") {
      event.preventDefault();
      openGuidelines();
    } else if (event.altKey && ["Digit1", "Digit2", "Digit3"].includes(event.code)) {
      if (!page.config.editable || page.conflict) return;
      event.preventDefault();
      const radios = document.querySelectorAll("input[name=difficulty]");
      radios[Number(event.code.slice(-1)) - 1].checked = true;
      changed(page);
    }
  });
}
