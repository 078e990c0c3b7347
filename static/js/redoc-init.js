// Starts Redoc on the API reference page (templates/drf_spectacular/redoc_csp.html) with our
// schema and this response's style nonce, so that the Content-Security-Policy admits the
// <style> elements Redoc writes (config/urls.py) and nothing else inline.
(function () {
  "use strict";
  // Redoc's sidebar always shows Redocly's logo from cdn.redoc.ly (React sets it as attribute,
  // then again as property). This page loads nothing from outside (the policy would refuse it,
  // and report a violation), so that one image gets an empty picture instead.
  const blank = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E";
  const local = (value) => (String(value).startsWith("https://cdn.redoc.ly/") ? blank : value);
  const setAttribute = Element.prototype.setAttribute;
  HTMLImageElement.prototype.setAttribute = function (name, value) {
    return setAttribute.call(this, name, name === "src" ? local(value) : value);
  };
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    ...src,
    set(value) {
      src.set.call(this, local(value));
    },
  });
  const container = document.getElementById("redoc");
  Redoc.init(container.dataset.specUrl, { nonce: container.dataset.nonce }, container);
})();
