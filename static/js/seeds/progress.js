// Follows seed-file jobs (a check or an import) while they run, and reloads the page when the
// job moves on (to show its report). See follow.js.
import { followJobs } from "./follow.js";

followJobs("[data-seed-import]", {
  url: (node) => `/api/v1/seed-imports/${node.dataset.seedImport}/`,
  running: new Set(["checking", "importing"]),
  reloadOnChange: true,
});
