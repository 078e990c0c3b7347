// Follows background jobs shown on the seeds pages (a seed file's check or import, a seed
// classification) while they run: polls the job's API once a second, moves its progress bar and
// message, and reloads the page when the job ends (to show its report or suggestions). Without
// JavaScript the pages offer a refresh link instead.
//
// followJobs(selector, { url, running, reloadOnChange }): every element matching `selector`
// whose data-status is in `running` is followed; `url(node)` is its job's API address. With
// `reloadOnChange` any change of status reloads the page; otherwise a change between running
// states (queued -> running) only updates the badge.
function follow(node, { url, running, reloadOnChange }) {
  const bar = node.querySelector("progress");
  const badge = node.querySelector(".badge");
  const message = node.querySelector(".message");
  async function poll() {
    let body;
    try {
      const res = await fetch(url(node), {
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
      if (reloadOnChange || !running.has(body.status)) {
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

export function followJobs(selector, options) {
  for (const node of document.querySelectorAll(selector)) {
    if (options.running.has(node.dataset.status)) follow(node, options);
  }
}
