// Follows release jobs that are queued or running: polls the release API once a second, moves
// the progress bar and message, and reloads the page when a job ends (to show its files).
(function () {
  "use strict";
  const rows = document.querySelectorAll("tr[data-release]");
  rows.forEach(function (row) {
    const status = row.dataset.status;
    if (status !== "queued" && status !== "running") return;
    const id = row.dataset.release;
    const bar = row.querySelector("progress");
    const badge = row.querySelector(".badge");
    const message = row.querySelector(".message");
    async function poll() {
      let body;
      try {
        const res = await fetch("/api/v1/releases/" + id + "/", {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (!res.ok) throw new Error(String(res.status));
        body = await res.json();
      } catch (err) {
        message.textContent = "cannot reach the server, retrying…";
        setTimeout(poll, 3000);
        return;
      }
      if (bar) bar.value = body.progress;
      badge.textContent = body.status;
      badge.className = "badge badge-" + body.status;
      message.textContent = body.status === "failed" ? body.error || "" : body.message || "";
      if (body.status === "done" || body.status === "failed") {
        window.location.reload();
        return;
      }
      setTimeout(poll, 1000);
    }
    setTimeout(poll, 500);
  });
})();
