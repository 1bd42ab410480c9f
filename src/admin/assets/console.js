// Progressive enhancement for the ScaiVault ACME console: every page works without this file.
// An element with data-live="<url>" is kept current from that server-sent-event stream: each
// "update" event carries the element's new HTML (rendered and escaped by the server); "done"
// ends the stream once the state is final.
"use strict";
document.querySelectorAll("[data-live]").forEach(function (element) {
  var source = new EventSource(element.getAttribute("data-live"));
  source.addEventListener("update", function (event) {
    element.innerHTML = event.data;
  });
  source.addEventListener("done", function () {
    source.close();
    element.setAttribute("data-live-state", "done");
  });
  source.onerror = function () {
    element.setAttribute("data-live-state", "reconnecting");
  };
});
