// Vote page: the model's view of the rewrite ("Ask the model"). The panel holds the structure;
// this fills it from POST /api/v1/ballots/{id}/hint/ with textContent only. Voting never waits
// for it: an error shows in the panel and the button can be pressed again.
import { csrf, withRetry } from "./annotate/dom.js";

const panel = document.getElementById("model-hint");
const button = document.getElementById("ask-model");

function show(hint) {
  document.getElementById("model-hint-model").textContent = hint.model;
  document.getElementById("model-hint-version").textContent = hint.prompt_version;
  document.querySelector("#model-hint-label strong").textContent = hint.label;
  for (const li of panel.querySelectorAll("#model-hint-items li[data-item]")) {
    const item = hint[li.dataset.item] || { ok: false, note: "" };
    const verdict = li.querySelector("[data-role=verdict]");
    verdict.textContent = item.ok ? "ok" : "concern";
    verdict.classList.toggle("badge-done", item.ok);
    verdict.classList.toggle("badge-warn", !item.ok);
    li.querySelector("[data-role=note]").textContent = item.note;
  }
  const list = document.getElementById("model-hint-problem-list");
  list.replaceChildren(...hint.problems.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
  document.getElementById("model-hint-problems").hidden = hint.problems.length === 0;
  document.getElementById("model-hint-body").hidden = false;
  document.getElementById("model-hint-ask").hidden = true;
}

function fail(message) {
  const error = document.getElementById("model-hint-error");
  error.hidden = false; // shown before it is filled, so the alert is announced
  error.textContent = message;
  button.disabled = false;
  button.textContent = "Ask again";
}

async function ask() {
  button.disabled = true;
  button.textContent = "Asking the model…";
  document.getElementById("model-hint-error").hidden = true;
  let response;
  try {
    response = await fetch(panel.dataset.hintUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf() },
    });
  } catch {
    fail("The server could not be reached; check your connection and ask again.");
    return;
  }
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  if (response.ok) {
    show(body);
    return;
  }
  const message = body.detail || `The model could not be asked (HTTP ${response.status}).`;
  fail(withRetry(message, Number(response.headers.get("Retry-After"))));
}

if (panel && button) {
  button.addEventListener("click", ask);
  // Rendered disabled, so a click before this script ran is not silently lost.
  button.disabled = false;
  button.removeAttribute("title");
}
