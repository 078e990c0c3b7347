// Model classification of seeds: follows a queued or running job (polls its API once a second,
// moves the progress bar and message, reloads the page when the job ends to show its
// suggestions), and offers a "select every suggestion on this page" box. Without JavaScript the
// page offers a refresh link and the boxes are ticked one by one.
const RUNNING = new Set(["queued", "running"]);

function follow(node) {
  const id = node.dataset.classificationJob;
  const bar = node.querySelector("progress");
  const badge = node.querySelector(".badge");
  const message = node.querySelector(".message");
  async function poll() {
    let body;
    try {
      const res = await fetch(`/api/v1/seed-classifications/${id}/`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!res.ok) throw new Error(String(res.status));
      body = await res.json();
    } catch (err) {
      if (message) message.textContent = "cannot reach the server, retrying…";
      setTimeout(poll, 3000);
      return;
    }
    if (bar) bar.value = body.progress;
    if (message) message.textContent = body.status === "failed" ? body.error || "" : body.message || "";
    if (body.status !== node.dataset.status) {
      if (!RUNNING.has(body.status)) {
        window.location.reload();
        return;
      }
      node.dataset.status = body.status;
      if (badge) badge.textContent = body.status;
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
}

for (const node of document.querySelectorAll("[data-classification-job]")) {
  if (RUNNING.has(node.dataset.status)) follow(node);
}

const selectAll = document.getElementById("select-all-suggestions");
if (selectAll) {
  const boxes = () => document.querySelectorAll('#suggestions-form input[name="ids"]');
  selectAll.hidden = false;
  selectAll.addEventListener("change", () => {
    for (const box of boxes()) box.checked = selectAll.checked;
  });
}
