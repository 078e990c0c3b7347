// Vote page: keyboard shortcuts (V valid, I invalid, N next, Ctrl+Enter cast) and the
// guidelines dialog. The form itself is a plain POST, so the page works without this file.
(function () {
  "use strict";
  const form = document.getElementById("vote-form");
  const dialog = document.getElementById("guidelines-dialog");
  const typing = () => /INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName) &&
    document.activeElement.type !== "radio" && document.activeElement.type !== "checkbox";

  function choose(value) {
    const radio = form && form.querySelector(`input[name=decision][value=${value}]`);
    if (!radio) return;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    if (value === "invalid") {
      const firstReason = form.querySelector("input[name=reasons]");
      if (firstReason) firstReason.focus();
    }
  }

  document.getElementById("open-guidelines").addEventListener("click", () => dialog.showModal());
  document.getElementById("close-guidelines").addEventListener("click", () => dialog.close());

  if (form) {
    const reasons = document.getElementById("reasons");
    const sync = () => {
      const invalid = form.querySelector("input[name=decision][value=invalid]").checked;
      const valid = form.querySelector("input[name=decision][value=valid]").checked;
      reasons.classList.toggle("required", invalid);
      // Reasons say why a rewrite is invalid: a 'valid' vote carries none.
      for (const box of form.querySelectorAll("input[name=reasons]")) {
        box.disabled = valid;
        if (valid) box.checked = false;
      }
    };
    form.addEventListener("change", sync);
    sync();
    form.addEventListener("submit", () => {
      document.getElementById("cast-vote").disabled = true;  // one vote per click
    });
  }

  document.addEventListener("keydown", (e) => {
    if (dialog.open) return;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && form) {
      e.preventDefault();
      form.requestSubmit();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing()) return;
    if (e.code === "KeyV") choose("valid");
    else if (e.code === "KeyI") choose("invalid");
    else if (e.code === "KeyN") document.getElementById("next-ballot").click();
  });
})();
