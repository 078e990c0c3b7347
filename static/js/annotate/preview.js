// The live preview and token count, both from the server (it renders and sanitizes the
// markdown, and counts the tokens), plus the language suggestions that come with them. Only the
// newest answer is shown: typing fast sends several previews.
import { $, csrf } from "./dom.js";
import { suggestLanguages, suggestNatural } from "./tags.js";

const PREVIEW_DELAY = 400;

export function schedulePreview(page) {
  clearTimeout(page.previewTimer);
  page.previewTimer = setTimeout(() => preview(page), PREVIEW_DELAY);
}

export async function preview(page) {
  const seq = ++page.previewSeq;
  try {
    const res = await fetch(page.config.urls.preview, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ text: page.el.text.value }),
    });
    if (!res.ok || seq !== page.previewSeq) return;
    const body = await res.json();
    if (seq !== page.previewSeq) return; // a newer preview is on its way
    $("preview").innerHTML = body.html; // sanitized by the server (nh3)
    $("token-count").textContent = body.question_tokens;
    suggestLanguages(page, body.suggested_languages || []);
    suggestNatural(page, body.suggested_natural_language);
  } catch (err) {
    $("token-count").textContent = "–";
  }
}
