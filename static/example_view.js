/* The side-by-side view of one example. Without JavaScript each card links to a plain page with previous / next /
   back links. With it, a click on a card opens the same view (the page's fragment, asked with HX-Request) in a
   modal <dialog>: ← / → move through the gallery, Esc or Close closes it and focus goes back to the card.
   On the plain page the same keys follow its links. */
(function () {
  "use strict";

  var dialog = null;
  var opener = null;
  var busy = false;  // a view is on its way: steps pressed meanwhile wait in `queued`, then run in turn
  var queued = [];
  var latest = 0;  // each load's number: a newer load, or closing the overlay, makes older answers stale

  function viewIn(root) {
    return root ? root.querySelector("[data-example-view]") : null;
  }

  function buildDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "example-dialog";
    dialog.setAttribute("aria-labelledby", "example-view-title");
    var bar = document.createElement("div");
    bar.className = "example-dialog-bar";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn small";
    close.setAttribute("data-dialog-close", "");
    close.textContent = "Close ✕";
    close.setAttribute("aria-label", "Close the example (Esc)");
    bar.appendChild(close);
    var body = document.createElement("div");
    body.className = "example-dialog-body";
    dialog.appendChild(bar);
    dialog.appendChild(body);
    dialog.addEventListener("close", returnFocus);
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close();  // a click on the backdrop
    });
    document.body.appendChild(dialog);
    return dialog;
  }

  function returnFocus() {
    queued = [];
    busy = false;
    latest += 1;
    var view = viewIn(dialog);
    var card = view && document.querySelector("#example-" + view.dataset.exampleId + " a[data-example-open]");
    var target = card || opener;
    if (target && document.contains(target)) target.focus();
    opener = null;
  }

  function show(url) {
    var mine = ++latest;
    busy = true;
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (mine !== latest) return;
        var view = viewIn(new DOMParser().parseFromString(html, "text/html"));
        if (!view) throw new Error("no example in the answer");
        var box = buildDialog();
        box.querySelector(".example-dialog-body").replaceChildren(document.importNode(view, true));
        box.querySelector("[data-keys-hint]").hidden = false;
        if (!box.open) box.showModal();
        box.querySelector("#example-view-title").focus();
        busy = false;
        if (queued.length) step(viewIn(box), queued.shift());
      })
      .catch(function () {
        if (mine === latest) window.location.assign(url);  // the plain page says what went wrong
      });
  }

  function step(view, direction) {
    if (busy) {
      if (queued.length < 20) queued.push(direction);
      return;
    }
    var url = direction === "previous" ? view.dataset.previousUrl : view.dataset.nextUrl;
    if (!url) {
      queued = [];
      return;
    }
    if (dialog && dialog.open) show(url);
    else window.location.assign(url);
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var link = event.target.closest && event.target.closest("a[data-example-open], a[data-example-step], a[data-example-close], button[data-dialog-close]");
    if (!link) return;
    var inDialog = dialog && dialog.open && dialog.contains(link);
    if (link.matches("a[data-example-open]")) {
      event.preventDefault();
      opener = link;
      show(link.href);
    } else if (inDialog && link.matches("a[data-example-step]")) {
      event.preventDefault();
      show(link.href);
    } else if (inDialog) {  // Close, or "Back to the gallery" inside the overlay
      event.preventDefault();
      dialog.close();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var open = dialog && dialog.open;
    var view = open ? viewIn(dialog) : viewIn(document.getElementById("main"));
    if (!view) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      step(view, event.key === "ArrowLeft" ? "previous" : "next");
    } else if (event.key === "Escape" && !open) {
      window.location.assign(view.dataset.backUrl);  // the plain page: Esc goes back to the gallery
    }  // in the dialog, Esc is the dialog's own: it closes and "close" returns the focus
  });

  document.addEventListener("DOMContentLoaded", function () {
    var hint = document.querySelector("#main [data-keys-hint]");
    if (hint) hint.hidden = false;
  });
})();
