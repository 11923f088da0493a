/* The side-by-side view of one example, in review mode. Without JavaScript each card links to a plain page whose
   buttons are forms (the server redirects to the next example after a verdict). With it, a click on a card opens
   the same view (the page's fragment, asked with HX-Request) in a modal <dialog>; on the plain page the view is
   swapped in place. Either way the forms are posted with fetch, the answer (the next example, or the review's
   summary) replaces the view, and the URL follows the example shown (history.pushState), so reload and back work.
   Keys: ← / → move, Esc closes (or goes back to the gallery), and, unless the curator turned single-key shortcuts
   off (data-keys="off"), A / F / R / U give a verdict — only while a review view is shown. */
(function () {
  "use strict";

  var VIEW = "[data-example-view], [data-review-summary]";
  var dialog = null;
  var opener = null;
  var galleryUrl = null;  // the page the dialog was opened on: closing the dialog goes back to its URL
  var busy = false;  // a view is on its way: keys pressed meanwhile wait in `queued`, then run in turn
  var queued = [];
  var latest = 0;  // each load's number: a newer load, or closing the overlay, makes older answers stale
  var pollTimer = null;

  function dialogOpen() {
    return !!(dialog && dialog.open);
  }

  function currentView() {
    return dialogOpen() ? dialog.querySelector(VIEW) : document.querySelector("#main " + VIEW);
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
    dialog.addEventListener("close", closed);
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close();  // a click on the backdrop
    });
    document.body.appendChild(dialog);
    return dialog;
  }

  function closed() {
    queued = [];
    busy = false;
    latest += 1;
    stopPolling();
    var view = dialog.querySelector("[data-example-view]");
    var card = view && document.querySelector("#example-" + view.dataset.exampleId + " a[data-example-open]");
    var target = card || opener;
    if (target && document.contains(target)) target.focus();
    opener = null;
    if (galleryUrl && window.location.href !== galleryUrl) history.pushState({ gallery: true }, "", galleryUrl);
  }

  /* Load `url` (or post `body` to it) and show the answer; `push`: a new history entry for the final URL. */
  function load(url, options) {
    options = options || {};
    var mine = ++latest;
    var inDialog = options.dialog || dialogOpen();
    busy = true;
    var init = { credentials: "same-origin", headers: {} };
    if (inDialog) init.headers["HX-Request"] = "true";
    if (options.body) {
      init.method = "POST";
      init.body = options.body;
    }
    fetch(url, init)
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text().then(function (html) { return { html: html, url: response.url }; });
      })
      .then(function (answer) {
        if (mine !== latest) return;
        var doc = new DOMParser().parseFromString(answer.html, "text/html");
        if (inDialog) showInDialog(doc);
        else showOnPage(doc);
        if (options.push !== false && answer.url !== window.location.href) {
          history.pushState({ exampleView: answer.url, dialog: inDialog }, "", answer.url);
        }
        settle();
      })
      .catch(function () {
        if (mine === latest && !options.body) window.location.assign(url);  // the plain page says what went wrong
        else if (mine === latest) { busy = false; queued = []; }
      });
  }

  function showInDialog(doc) {
    var view = doc.querySelector(VIEW);
    if (!view) throw new Error("no example in the answer");
    var box = buildDialog();
    box.querySelector(".example-dialog-body").replaceChildren(document.importNode(view, true));
    if (!box.open) box.showModal();
  }

  function showOnPage(doc) {
    var main = doc.getElementById("main");
    if (!main || !main.querySelector(VIEW)) throw new Error("no example in the answer");
    document.getElementById("main").replaceChildren.apply(
      document.getElementById("main"),
      Array.prototype.map.call(main.childNodes, function (node) { return document.importNode(node, true); })
    );
    document.title = doc.title;
  }

  function showHints(view) {
    view.querySelectorAll("[data-keys-hint]").forEach(function (hint) { hint.hidden = false; });
  }

  function settle() {
    var view = currentView();
    if (view) {
      showHints(view);
      var title = view.querySelector("h1[tabindex]");
      if (title) title.focus();
      startPolling(view);
    }
    busy = false;
    if (queued.length) run(queued.shift());
  }

  function step(direction) {
    var view = currentView();
    if (!view || !view.matches("[data-example-view]")) return;
    var url = direction === "previous" ? view.dataset.previousUrl : view.dataset.nextUrl;
    if (url) load(url);
    else queued = [];
  }

  function verdict(key) {
    var view = currentView();
    if (!view || !view.matches("[data-example-view]") || view.dataset.keys !== "on") return;
    var button = view.querySelector("button[data-verdict-key='" + key + "']");
    if (button) button.form.requestSubmit(button);
  }

  function run(action) {
    if (busy) {
      if (queued.length < 20) queued.push(action);
      return;
    }
    if (action.step) step(action.step);
    else verdict(action.verdict);
  }

  /* -- a regeneration's progress, polled while its job runs -------------------------------------------- */
  function stopPolling() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
  }

  function startPolling(view) {
    stopPolling();
    var part = view.querySelector("[data-regeneration]");
    if (!part || part.dataset.live !== "true") return;
    pollTimer = setTimeout(function () { poll(view); }, 1000);
  }

  function poll(view) {
    pollTimer = null;
    if (!document.contains(view)) return;
    fetch(view.dataset.regenerationUrl, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        if (!document.contains(view)) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-regeneration]");
        var part = view.querySelector("[data-regeneration]");
        if (!fresh || !part) return;
        part.replaceWith(document.importNode(fresh, true));
        var made = view.querySelector("[data-regenerated-as-link]");
        if (fresh.dataset.live !== "true" && made) nextIs(view, made.getAttribute("href"));
        startPolling(view);
      })
      .catch(function () { pollTimer = setTimeout(function () { poll(view); }, 3000); });
  }

  /* The regenerated example is one → away from the one it redoes. */
  function nextIs(view, url) {
    view.dataset.nextUrl = url;
    var next = view.querySelector("a[data-example-step=next], .example-nav span[aria-disabled]:last-of-type");
    if (next && next.tagName === "A") {
      next.href = url;
    } else if (next) {
      var link = document.createElement("a");
      link.className = "btn";
      link.rel = "next";
      link.href = url;
      link.dataset.exampleStep = "next";
      link.textContent = "Next →";
      next.replaceWith(link);
    }
  }

  /* -- events -------------------------------------------------------------------------------------------- */
  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var link = event.target.closest && event.target.closest("a[data-example-open], a[data-example-step], a[data-example-go], a[data-example-close], button[data-dialog-close]");
    if (!link) return;
    if (link.matches("a[data-example-open]")) {
      event.preventDefault();
      opener = link;
      galleryUrl = window.location.href;
      load(link.href, { dialog: true });
    } else if (link.matches("a[data-example-step]") && currentView() && currentView().contains(link)) {
      event.preventDefault();
      run({ step: link.dataset.exampleStep });
    } else if (link.matches("a[data-example-go]") && currentView() && currentView().contains(link)) {
      event.preventDefault();  // from a regenerated example to the other one, in the same place
      load(link.href);
    } else if (dialogOpen() && dialog.contains(link)) {  // Close, or "Back to the gallery" inside the overlay
      event.preventDefault();
      dialog.close();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var view = currentView();
    if (event.defaultPrevented || !view || !view.contains(form) || form.method.toLowerCase() !== "post") return;
    event.preventDefault();
    load(form.action, { body: new FormData(form, event.submitter || null) });
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var view = currentView();
    if (!view) return;
    var key = event.key;
    if (key === "ArrowLeft" || key === "ArrowRight") {
      event.preventDefault();
      run({ step: key === "ArrowLeft" ? "previous" : "next" });
    } else if (key === "Escape" && !dialogOpen()) {
      var back = view.dataset.backUrl || (view.querySelector("a[data-example-close]") || {}).href;
      if (back) window.location.assign(back);  // the plain page: Esc goes back to the gallery
    } else if (/^[afru]$/i.test(key) && !event.shiftKey && view.dataset.keys === "on") {
      event.preventDefault();
      run({ verdict: key.toLowerCase() });
    }  // in the dialog, Esc is the dialog's own: it closes and "close" returns the focus
  });

  window.addEventListener("popstate", function (event) {
    var state = event.state || {};
    if (state.exampleView) {
      load(state.exampleView, { push: false, dialog: state.dialog && !!galleryUrl });
    } else if (dialogOpen()) {
      galleryUrl = null;  // already on the gallery's entry
      dialog.close();
    } else if (document.querySelector("#main " + VIEW)) {
      window.location.reload();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var view = document.querySelector("#main " + VIEW);
    if (view) {
      history.replaceState({ exampleView: window.location.href, dialog: false }, "", window.location.href);
      showHints(view);
      startPolling(view);
    }
  });
})();
