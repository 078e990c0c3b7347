// Follows seed-file jobs (a check or an import) while they run: polls the import's API once a
// second, moves the progress bar and message, and reloads the page when the job ends (to show
// its report). Without JavaScript the page offers a refresh link instead.
const RUNNING = new Set(["checking", "importing"]);

function follow(node) {
  const id = node.dataset.seedImport;
  const bar = node.querySelector("progress");
  const badge = node.querySelector(".badge");
  const message = node.querySelector(".message");
  async function poll() {
    let body;
    try {
      const res = await fetch(`/api/v1/seed-imports/${id}/`, {
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
      window.location.reload();
      return;
    }
    if (badge) badge.textContent = body.status;
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
}

for (const node of document.querySelectorAll("[data-seed-import]")) {
  if (RUNNING.has(node.dataset.status)) follow(node);
}
