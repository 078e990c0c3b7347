// Model classification of seeds: follows a queued or running job (polls its API once a second,
// moves the progress bar and message, reloads the page when the job ends to show its
// suggestions), offers a "select every suggestion on this page" box, and asks before accepting
// every suggestion at once (a bulk change with no undo). Without JavaScript the page offers a
// refresh link and the boxes are ticked one by one.
import { followJobs } from "./follow.js";

followJobs("[data-classification-job]", {
  url: (node) => `/api/v1/seed-classifications/${node.dataset.classificationJob}/`,
  running: new Set(["queued", "running"]),
  reloadOnChange: false,
});

const selectAll = document.getElementById("select-all-suggestions");
if (selectAll) {
  const boxes = () => document.querySelectorAll('#suggestions-form input[name="ids"]');
  selectAll.hidden = false;
  selectAll.addEventListener("change", () => {
    for (const box of boxes()) box.checked = selectAll.checked;
  });
}

const acceptAll = document.getElementById("accept-all-form");
if (acceptAll) {
  acceptAll.addEventListener("submit", (event) => {
    const label = acceptAll.querySelector("button").textContent.trim();
    const question = `${label}? Each seed takes its suggested subcategory; a seed's subcategory is not undone from this page.`;
    if (!window.confirm(question)) event.preventDefault();
  });
}
