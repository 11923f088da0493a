/* The blind review's keys: ← → ↑ ↓ submit the pair's verdict, as its four buttons do without JavaScript
   (left better, right better, both good, both bad). Never while typing in a field, never with a modifier. */
(function () {
  "use strict";

  var VERDICT_OF_KEY = { ArrowLeft: "left", ArrowRight: "right", ArrowUp: "both_good", ArrowDown: "both_bad" };
  var sent = false;  // one vote a pair: a held key must not post it twice

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var verdict = VERDICT_OF_KEY[event.key];
    var form = document.querySelector("form[data-pair-form]");
    if (!verdict || !form) return;
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var button = form.querySelector('button[name="verdict"][value="' + verdict + '"]');
    if (!button) return;
    event.preventDefault();
    if (sent) return;
    sent = true;
    button.classList.add("pressed");
    form.requestSubmit(button);
  });

  // back to this page from the reveal (the browser's page cache): the pair may be voted on again
  window.addEventListener("pageshow", function () { sent = false; });
})();
