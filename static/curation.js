/* PixelGlow admin: curating the preset page's gallery (no inline scripts: the CSP forbids them).
 * - drag a card onto another card of the same state to place it before or after it (the card's
 *   "move earlier / later" buttons do the same without JavaScript, or from the keyboard);
 * - the bulk bar counts the ticked examples and can tick every card of the page;
 * - a live job's new card is never added twice (the page may already show it);
 * - after a verdict, move or bulk action the page stays where it was: the scroll is kept, and the focus goes to
 *   the same button of the next card after a verdict (of the same card after a move). */
(function () {
  "use strict";

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }
  function say(message, kind) {
    if (kind === "error") {  // admin.js's toast: shown and scrolled to
      if (window.PixelGlow && window.PixelGlow.toast) window.PixelGlow.toast(message, kind);
      return;
    }
    var box = document.getElementById("toasts");  // a success is written down without moving the page
    if (!box) return;
    var note = document.createElement("div");
    note.className = "alert success";
    note.setAttribute("role", "status");
    note.textContent = message;
    box.appendChild(note);
  }
  function curationOf(card) { return card ? card.querySelector("[data-curation]") : null; }
  function idOf(card) { return card.id.slice("example-".length); }
  function stateOf(card) { var block = curationOf(card); return block ? block.dataset.state : null; }

  // -- drag and drop ---------------------------------------------------------------------------------
  var dragged = null;

  function enableDragging() {
    document.querySelectorAll("[data-drag-hint]").forEach(function (hint) { hint.hidden = false; });
    document.querySelectorAll("#gallery li.example").forEach(function (card) {
      if (!curationOf(card)) return;
      card.draggable = true;
      card.querySelectorAll("img").forEach(function (img) { img.draggable = false; });
    });
  }
  function dropTarget(event) {
    if (!dragged || !event.target.closest) return null;
    var card = event.target.closest("#gallery li.example");
    if (!card || card === dragged || stateOf(card) !== stateOf(dragged)) return null;
    return card;
  }
  function sideOf(event, card) {
    var box = card.getBoundingClientRect();
    return event.clientX > box.left + box.width / 2 ? "after" : "before";
  }
  function clearMarks() {
    document.querySelectorAll("#gallery .drop-before, #gallery .drop-after").forEach(function (card) {
      card.classList.remove("drop-before", "drop-after");
    });
  }
  function refreshGallery() {
    if (!window.htmx || !document.getElementById("gallery-section")) return Promise.resolve();
    return window.htmx.ajax("GET", window.location.pathname + window.location.search,
                            { target: "#gallery-section", swap: "outerHTML" });
  }
  function saveMove(card, target, side) {
    var body = {};
    body[side] = idOf(target);
    var url = document.getElementById("gallery").dataset.moveUrl.replace("/EXAMPLE/", "/" + idOf(card) + "/");
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (answer) {
      return refreshGallery().then(function () {
        say(answer.ok ? answer.data.message : (answer.data.error || "The move was refused."),
            answer.ok ? "success" : "error");
      });
    }).catch(function () {
      say("The new order could not be saved: check your connection and try again.", "error");
      refreshGallery();
    });
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest("#gallery li.example[draggable=true]") : null;
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.id);
  });
  document.addEventListener("dragover", function (event) {
    var target = dropTarget(event);
    if (!target) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    var side = sideOf(event, target);
    if (!target.classList.contains("drop-" + side)) {
      clearMarks();
      target.classList.add("drop-" + side);
    }
  });
  document.addEventListener("drop", function (event) {
    var target = dropTarget(event);
    if (!target) return;
    event.preventDefault();
    var card = dragged, side = sideOf(event, target);
    clearMarks();
    target.parentNode.insertBefore(card, side === "after" ? target.nextSibling : target);
    saveMove(card, target, side);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    clearMarks();
  });

  // -- the bulk bar ------------------------------------------------------------------------------------
  function updateSelection() {
    var form = document.getElementById("bulk-form");
    if (!form) return;
    var boxes = Array.prototype.slice.call(document.querySelectorAll("#gallery input[data-select-example]"));
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    form.querySelector("[data-selected-count]").textContent =
      ticked ? ticked + (ticked === 1 ? " example selected:" : " examples selected:") : "Tick examples, then:";
    var label = form.querySelector("[data-select-all-label]"), all = form.querySelector("[data-select-all]");
    label.hidden = boxes.length === 0;
    all.checked = ticked > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
    form.querySelectorAll(".bulk-actions button").forEach(function (button) { button.disabled = ticked === 0; });
  }
  document.addEventListener("change", function (event) {
    if (!event.target.matches) return;
    if (event.target.matches("input[data-select-all]")) {
      document.querySelectorAll("#gallery input[data-select-example]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
    if (event.target.matches("input[data-select-all], input[data-select-example]")) updateSelection();
  });

  // -- scroll and focus kept across the gallery's swaps -------------------------------------------------------
  // A card's buttons say which example in their value ("<id>:approved"); what they do is the part after the colon.
  var pressed = null;  // the gallery button whose request is under way: its card, name and action, the scroll
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("#bulk-form button") : null;
    if (!button) return;
    var card = button.closest("li.example");
    pressed = { example: card ? idOf(card) : null, name: button.name, what: button.value.split(":").pop(),
                scrollY: window.scrollY };
  }, true);
  function buttonOf(card, was) {
    if (!card) return null;
    return card.querySelector('button[name="' + was.name + '"][value$=":' + was.what + '"]:not(:disabled)');
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    var was = pressed;
    if (!was || !event.detail.requestConfig || event.detail.requestConfig.verb !== "post") return;
    pressed = null;
    window.scrollTo(window.scrollX, was.scrollY);
    if (!was.example) return;
    var card = document.getElementById("example-" + was.example);
    var target = card;
    if (was.name === "verdict") {  // a verdict: on to the next card
      var next = card && card.nextElementSibling;
      while (next && !next.matches("li.example")) next = next.nextElementSibling;
      target = next || card;
    }
    var button = buttonOf(target, was) || buttonOf(card, was);
    if (button) button.focus({ preventScroll: true });
  });

  // -- live progress: a card the page already shows is not added again ------------------------------------
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var fragment = event.detail.fragment;
    var card = fragment && fragment.querySelector ? fragment.querySelector("li.example[id]") : null;
    if (card && document.getElementById(card.id)) event.detail.shouldSwap = false;
  });

  // a page holds at most its page size: a running job's new cards push the last ones on to the next page
  function keepPageSize() {
    var gallery = document.getElementById("gallery");
    if (!gallery) return;
    var cards = gallery.querySelectorAll(":scope > li.example"), size = parseInt(gallery.dataset.perPage, 10);
    for (var n = cards.length - 1; size && n >= size; n--) cards[n].remove();
  }
  document.addEventListener("htmx:oobAfterSwap", keepPageSize);

  function ready() { enableDragging(); updateSelection(); }
  document.addEventListener("htmx:afterSettle", ready);
  document.addEventListener("htmx:oobAfterSwap", ready);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready); else ready();
})();
