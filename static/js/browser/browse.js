// The data browser's small comforts; the page works without them.
// - "select every row of this page" checkbox in the table's header;
// - the annotator field shows only for the reassign action;
// - the filter form submits when a select changes, and drops empty fields from the URL.

const table = document.getElementById("browse-results");
const selectPage = document.getElementById("select-page");
if (table && selectPage) {
  const boxes = () => [...table.querySelectorAll("tbody input[name=ids]")];
  selectPage.hidden = false;
  selectPage.addEventListener("change", () => {
    for (const box of boxes()) box.checked = selectPage.checked;
  });
  table.addEventListener("change", (event) => {
    if (event.target.name !== "ids") return;
    const all = boxes();
    const ticked = all.filter((b) => b.checked).length;
    selectPage.checked = ticked === all.length && all.length > 0;
    selectPage.indeterminate = ticked > 0 && ticked < all.length;
  });
}

const action = document.getElementById("bulk-action");
const annotator = document.querySelector(".bulk-annotator");
if (action && annotator) {
  const sync = () => { annotator.hidden = action.value !== "reassign"; };
  action.addEventListener("change", sync);
  sync();
}

const form = document.getElementById("browse-filters");
if (form) {
  form.addEventListener("change", (event) => {
    if (event.target.tagName === "SELECT") form.requestSubmit();
  });
  form.addEventListener("formdata", (event) => {
    for (const [name, value] of [...event.formData.entries()]) {
      if (value === "") event.formData.delete(name);
    }
  });
}
