// Press "n" (outside a text field) to follow the page's "next" button: the queue's "Next seed"
// and the ballots page's "Next ballot". The button's id comes from this script tag's
// data-target attribute (a static file, so the Content-Security-Policy allows it).
(function () {
  "use strict";
  var target = document.currentScript && document.currentScript.dataset.target;
  if (!target) return;
  document.addEventListener("keydown", function (e) {
    if (e.key !== "n" || e.ctrlKey || e.metaKey || e.altKey) return;
    if (/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) return;
    var button = document.getElementById(target);
    if (button) button.click();
  });
})();
