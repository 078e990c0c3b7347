// The page's decisions: submit (after the last save is confirmed), reject with a reason, skip
// with an optional reason, then on to the next seed (the next page confirms what was done);
// plus the buttons that open the reject, skip and guidelines dialogs.
import { $, csrf } from "./dom.js";
import { content, missing, read, updateMissing } from "./form.js";
import { forgetLocally } from "./store.js";
import { save, setState } from "./autosave.js";

// Post to the Next-seed route (the oldest unstarted open seed, else a new one). `done` names
// this assignment, so the next page can confirm what happened to it.
function goNext(page) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = page.config.urls.next;
  const fields = { csrfmiddlewaretoken: csrf(), done: String(page.config.assignment) };
  Object.entries(fields).forEach(function ([name, value]) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  });
  document.body.appendChild(form);
  form.submit();
}

function announce(text) {
  const done = $("action-done");
  done.textContent = text;
  done.hidden = false;
}

function lockPage(page) {
  forgetLocally(page);
  page.config.editable = false;
  ["submit", "reject", "skip"].forEach((id) => ($(id).disabled = true));
}

async function post(url, body) {
  const res = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
    body: JSON.stringify(body || {}),
  });
  return { res: res, body: await res.json().catch(() => ({})) };
}

export async function submit(page) {
  const submitButton = page.el.submit;
  const errorEl = page.el.error;
  if (!page.config.editable || page.conflict) return;
  if (submitButton.disabled) {
    errorEl.textContent = "Not yet: " + missing(page).join(", ") + ".";
    return;
  }
  errorEl.textContent = "";
  submitButton.disabled = true;
  try {
    // Wait for a save in flight, then save whatever was typed since.
    await page.inflight;
    await save(page);
    if (content(page, read(page)) !== page.lastSaved) {
      errorEl.textContent = "The draft is not saved yet (see the state at the top); try again.";
      return;
    }
    const { res, body } = await post(page.config.urls.submit);
    if (res.ok) {
      lockPage(page);
      setState(page, "saved", "Submitted");
      announce(
        `Submitted revision ${body.revision || 1} of \u201c${page.config.seed}\u201d for review. ` +
          "Opening the next seed\u2026",
      );
      goNext(page);
      return;
    }
    const errors = body.errors ? Object.values(body.errors).flat().join("; ") : "";
    errorEl.textContent = (body.detail || "Submit failed.") + (errors ? " " + errors : "");
  } catch (err) {
    errorEl.textContent = "Cannot reach the server; your draft is kept. Try again when online.";
  } finally {
    updateMissing(page);
  }
}

export function openReject(page) {
  if (page.config.editable) $("reject-dialog").showModal();
}

export function openSkip(page) {
  if (page.config.editable && !$("skip").disabled) $("skip-dialog").showModal();
}

export function openGuidelines() {
  $("guidelines-dialog").showModal();
}

export function bindActions(page) {
  const rejectDialog = $("reject-dialog");
  $("reject-cancel").addEventListener("click", () => rejectDialog.close());
  $("reject-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const reason = $("reject-reason").value;
    if (!reason) {
      $("reject-reason").focus();
      return;
    }
    try {
      const { res, body } = await post(page.config.urls.reject, {
        reason: reason,
        note: $("reject-note").value,
      });
      if (res.ok) {
        lockPage(page);
        rejectDialog.close();
        goNext(page);
        return;
      }
      page.el.error.textContent = body.detail || "Reject failed.";
      rejectDialog.close();
    } catch (err) {
      page.el.error.textContent = "Cannot reach the server. Try again when online.";
    }
  });

  const skipDialog = $("skip-dialog");
  const skipReason = $("skip-reason");
  skipReason.addEventListener("input", function () {
    $("skip-reason-left").textContent = skipReason.maxLength - skipReason.value.length;
  });
  $("skip-cancel").addEventListener("click", () => skipDialog.close());
  $("skip-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const confirm = $("skip-confirm");
    confirm.disabled = true;
    try {
      // Let a save in flight land first: the skipped assignment keeps its draft for the record.
      await page.inflight;
      const { res, body } = await post(page.config.urls.skip, { reason: skipReason.value });
      if (res.ok) {
        lockPage(page);
        skipDialog.close();
        announce(`Skipped \u201c${page.config.seed}\u201d. Opening the next seed\u2026`);
        goNext(page);
        return;
      }
      const errors = body.errors ? Object.values(body.errors).flat().join("; ") : "";
      page.el.error.textContent = (body.detail || "Skip failed.") + (errors ? " " + errors : "");
      skipDialog.close();
    } catch (err) {
      page.el.error.textContent = "Cannot reach the server. Try again when online.";
    } finally {
      confirm.disabled = false;
    }
  });

  page.el.submit.addEventListener("click", () => submit(page));
  $("reject").addEventListener("click", () => openReject(page));
  $("skip").addEventListener("click", () => openSkip(page));
  $("open-guidelines").addEventListener("click", openGuidelines);
}
