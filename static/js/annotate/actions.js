// The page's decisions: submit (after the last save is confirmed), reject with a reason, then
// on to the next seed; plus the buttons that open the reject and guidelines dialogs.
import { $, csrf } from "./dom.js";
import { content, missing, read, updateMissing } from "./form.js";
import { forgetLocally } from "./store.js";
import { save, setState } from "./autosave.js";

function goNext(page) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = page.config.urls.next;
  const token = document.createElement("input");
  token.type = "hidden";
  token.name = "csrfmiddlewaretoken";
  token.value = csrf();
  form.appendChild(token);
  document.body.appendChild(form);
  form.submit();
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
      forgetLocally(page);
      page.config.editable = false;
      setState(page, "saved", "Submitted");
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
        forgetLocally(page);
        page.config.editable = false;
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

  page.el.submit.addEventListener("click", () => submit(page));
  $("reject").addEventListener("click", () => openReject(page));
  $("open-guidelines").addEventListener("click", openGuidelines);
}
