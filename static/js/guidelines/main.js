// The guidelines editor's live preview: the same server-side renderer and sanitizer as the
// annotate page (POST to the campaign's preview API), debounced, showing only the newest
// answer. Without JavaScript the form still saves; the preview then shows the saved text.
import { csrf } from "../annotate/dom.js";

const PREVIEW_DELAY = 400;

function start() {
  const form = document.getElementById("guidelines-form");
  const text = document.getElementById("guidelines-text");
  const out = document.getElementById("guidelines-preview");
  if (!form || !text || !out) return;
  const url = form.dataset.previewUrl;
  let timer = null;
  let seq = 0;

  async function preview() {
    const mine = ++seq;
    try {
      const res = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify({ text: text.value }),
      });
      if (!res.ok || mine !== seq) return;
      const body = await res.json();
      if (mine !== seq) return; // a newer preview is on its way
      out.innerHTML = body.html; // sanitized by the server (nh3)
    } catch (err) {
      // Offline or the server is away: keep the last preview; saving still works.
    }
  }

  text.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(preview, PREVIEW_DELAY);
  });
}

start();
