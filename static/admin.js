/* PixelGlow admin: the little JavaScript the pages need (no inline scripts: the CSP forbids them). */
(function () {
  "use strict";

  // Confirmation for destructive plain forms: <form data-confirm="Question?">. In the question, "{value}" is the
  // pressed button's value (the pool's one form: "Release model {value}…").
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.dataset && form.dataset.confirm &&
      form.dataset.confirm.replace("{value}", event.submitter ? event.submitter.value : "");
    if (form instanceof HTMLFormElement && question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Money as the pages' `usd` filter writes it (app.spend.money): cents, or up to four decimals
  // for amounts under a dollar that cents would round.
  function money(value) {
    var cents = Math.round(value * 100) / 100;
    if (value >= 1 || Math.abs(value - cents) < 1e-9) {
      return "$" + cents.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
    }
    var parts = value.toFixed(4).split(".");
    var fraction = parts[1].replace(/0+$/, "");
    while (fraction.length < 2) fraction += "0";
    return "$" + parts[0] + "." + fraction;
  }

  // Generate form: number of images and estimated cost (and whether it passes what is left of the
  // month's limit), before submitting.
  function updateEstimate() {
    var form = document.querySelector("form[data-estimate]");
    if (!form) return;
    var input = form.querySelector("input[name=examples_per_model]");
    var pool = document.getElementById("pool");
    var choosing = form.querySelector("input[name=mode][value=choose]:checked");
    var picked = document.querySelectorAll("input[data-pick]:checked:not(:disabled)").length;
    var models = choosing ? picked : (pool ? parseInt(pool.dataset.modelsNext, 10) || 0 : 0);
    var pickedOut = form.querySelector("[data-picked]");
    if (pickedOut) pickedOut.textContent = String(picked);
    var perModel = Math.max(0, parseInt(input.value, 10) || 0);
    var images = models * perModel;
    var price = parseFloat(form.dataset.price) || 0;
    form.querySelector("[data-images]").textContent = String(images);
    var cost = images * price;
    form.querySelector("[data-cost]").textContent = money(cost);
    var over = document.querySelector("[data-over-budget]");
    if (over && form.dataset.left !== undefined) over.hidden = cost <= parseFloat(form.dataset.left) + 1e-9;
    var button = form.querySelector("button[type=submit]");
    if (button && !form.classList.contains("htmx-request")) button.disabled = models === 0;
  }
  document.addEventListener("input", function (event) {
    if (!event.target.closest) return;
    if (event.target.closest("form[data-estimate]") || event.target.matches("input[data-pick]")) updateEstimate();
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[data-pick], input[name=mode]")) updateEstimate();
    if (event.target.matches && event.target.matches("input[name=mode]")) showPoolThumbs();
  });

  // "Choose models": each pool model's thumbnail, added and loaded only then (the page without it loads none).
  function showPoolThumbs() {
    var list = document.querySelector("#pool ul[data-thumb-url]");
    if (!list) return;
    var choosing = document.querySelector("#generate-form input[name=mode][value=choose]:checked");
    list.querySelectorAll("li.pool-model").forEach(function (row) {
      var img = row.querySelector("img.pool-thumb");
      if (!img && !choosing) return;
      if (!img) {
        img = document.createElement("img");
        img.className = "pool-thumb";
        img.alt = "";
        img.width = 48;
        img.height = 60;
        img.src = list.dataset.thumbUrl.replace("MODEL", encodeURIComponent(row.dataset.poolModel));
        var code = row.querySelector("code");
        code.parentNode.insertBefore(img, code);
      }
      img.hidden = !choosing;
    });
  }
  document.addEventListener("htmx:oobAfterSwap", showPoolThumbs);

  // Model pool: show the models of one gender and / or state (all are shown without JS).
  function filterPool() {
    var pool = document.getElementById("pool");
    if (!pool) return;
    var wanted = {};
    pool.querySelectorAll("select[data-pool-filter]").forEach(function (select) {
      wanted[select.dataset.poolFilter] = select.value;
    });
    var shown = 0, rows = pool.querySelectorAll("li.pool-model");
    rows.forEach(function (row) {
      var visible = (!wanted.gender || row.classList.contains(wanted.gender)) &&
                    (!wanted.state || row.classList.contains(wanted.state));
      row.hidden = !visible;
      if (visible) shown += 1;
    });
    var out = pool.querySelector("[data-pool-shown]");
    if (out) out.textContent = shown + " of " + rows.length + " shown";
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-pool-filter]")) filterPool();
  });
  document.addEventListener("htmx:oobAfterSwap", filterPool);

  // Preset form: show the settings of the chosen provider only (all stay visible without JS).
  function showProviderSettings() {
    var select = document.querySelector("select[data-provider-select]");
    if (!select) return;
    document.querySelectorAll("fieldset[data-provider]").forEach(function (fieldset) {
      var active = fieldset.dataset.provider === select.value;
      fieldset.hidden = !active;
      fieldset.disabled = !active;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-provider-select]")) showProviderSettings();
  });

  // Failed htmx requests never fail silently: show the server's message (or the network error).
  function toast(message, kind, id) {
    var box = document.getElementById("toasts");
    if (!box) return;
    if (id && document.getElementById(id)) return;  // already shown (a poll failing every second)
    var alert = document.createElement("div");
    if (id) alert.id = id;
    alert.className = "alert " + (kind || "error");
    alert.setAttribute("role", "alert");
    alert.textContent = message;
    box.appendChild(alert);
    alert.scrollIntoView({ block: "nearest" });
  }
  function messageOf(xhr) {
    var text = xhr.responseText || "";
    var type = xhr.getResponseHeader("Content-Type") || "";
    try {
      if (type.indexOf("json") !== -1) return JSON.parse(text).error || text;
      var doc = new DOMParser().parseFromString(text, "text/html");
      var node = doc.querySelector("[data-error-message]");
      if (node) return node.textContent.trim();
    } catch (e) { /* fall through */ }
    return "The server answered " + xhr.status + " " + (xhr.statusText || "") + ".";
  }
  window.PixelGlow = { toast: toast };  // for the page scripts beside this one (curation.js)
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.getResponseHeader("HX-Redirect")) return;
    toast(messageOf(xhr));
  });
  document.addEventListener("htmx:sendError", function () {
    toast("The admin could not be reached: check your connection; live progress resumes when it is back.",
          "error", "connection-lost");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var lost = document.getElementById("connection-lost");
    if (lost && event.detail.successful) lost.remove();
  });
  document.addEventListener("htmx:afterSettle", updateEstimate);

  // A form's errors that came back through htmx (the generate form): each field named in an error is marked
  // invalid and the first focused; the next request clears them. A refused gallery filter (400) is swapped in
  // like any section: its errors are beside their filters (app/web/admin/form_errors.py).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || form.id !== "generate-form") return;
    form.querySelectorAll("[aria-invalid=true]").forEach(function (field) { field.removeAttribute("aria-invalid"); });
    form.querySelectorAll(".field-error").forEach(function (slot) { slot.textContent = ""; slot.hidden = true; });
    var feedback = document.getElementById("generate-feedback");
    if (feedback) feedback.textContent = "";
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.target || event.detail.target.id !== "generate-feedback") return;
    var first = null;
    document.querySelectorAll("#generate-form [data-invalid-for]").forEach(function (error) {
      var field = document.getElementById(error.dataset.invalidFor);
      if (!field) return;
      field.setAttribute("aria-invalid", "true");
      first = first || field;
    });
    if (first) first.focus();
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.id === "gallery-section") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:oobAfterSwap", updateEstimate);

  document.addEventListener("DOMContentLoaded", function () {
    showProviderSettings();
    updateEstimate();
    filterPool();
  });
})();
