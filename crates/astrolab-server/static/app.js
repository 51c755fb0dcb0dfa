// astrolab pages: the little script they need (no framework, no other
// sites). Loaded with `defer` from /static/app.js; the content policy
// forbids inline scripts. Everything it writes into the page goes in as
// text (textContent), never as HTML.
(function () {
  "use strict";

  // ---- Run page: poll the JSON API every second until the run ends. ----
  function followRun(section) {
    var id = section.getAttribute("data-run-id");
    var after = parseInt(section.getAttribute("data-after") || "0", 10);
    var details = section.getAttribute("data-details") === "true";
    var done = section.getAttribute("data-done") === "true";
    var stateEl = document.getElementById("run-state");
    var prog = document.getElementById("run-progress");
    var pct = document.getElementById("run-pct");
    var msg = document.getElementById("run-message");
    var attempts = document.getElementById("run-attempts");
    var finished = document.getElementById("run-finished");
    var result = document.getElementById("run-result");
    var log = document.getElementById("run-log");
    var busy = false;

    function iso(ms) {
      return ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
    }
    function showRun(r) {
      var state = String(r.state || "");
      var badge = document.createElement("span");
      badge.className = "badge state-" + state.replace(/[^a-z]/g, "");
      badge.textContent = state;
      stateEl.replaceChildren(badge);
      var p = typeof r.progress === "number" ? r.progress : (state === "succeeded" ? 1 : 0);
      prog.value = p;
      prog.textContent = Math.round(p * 100) + " %";
      pct.textContent = Math.round(p * 100) + " %";
      if (msg && typeof r.message === "string") { msg.textContent = r.message; }
      if (attempts) { attempts.textContent = r.attempts + " of " + r.max_attempts; }
      if (finished) { finished.textContent = iso(r.finished_at_ms); }
      if (result && r.result) { result.textContent = JSON.stringify(r.result, null, 2); }
      section.setAttribute("data-state", state);
      // Only queued runs can be cancelled: drop the button once it runs.
      var cancel = document.getElementById("cancel-form");
      if (cancel && state !== "queued") { cancel.remove(); }
    }
    function appendLines(items) {
      if (!log || !items.length) { return; }
      var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      items.forEach(function (l) {
        var s = document.createElement("span");
        s.className = l.stream === "stderr" ? "err" : "out";
        s.textContent = l.line;
        log.appendChild(s);
        log.appendChild(document.createTextNode("\n"));
      });
      if (atBottom) { log.scrollTop = log.scrollHeight; }
    }
    function get(url) {
      return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(url + ": " + r.status); } return r.json(); });
    }
    function tick() {
      if (busy) { return; }
      busy = true;
      var runP = get("/api/v1/runs/" + id).then(showRun);
      var logP = details
        ? get("/api/v1/runs/" + id + "/logs?after=" + after).then(function (j) {
            appendLines(j.items || []);
            after = j.next_after || after;
            section.setAttribute("data-after", String(after));
            return j.done;
          })
        : runP.then(function () { return /^(succeeded|failed|cancelled)$/.test(section.getAttribute("data-state")); });
      Promise.all([runP, logP]).then(function (v) {
        if (v[1]) { stop(); }
      }).catch(function () { /* a missed poll is retried next second */ })
        .then(function () { busy = false; });
    }
    var timer = null;
    function stop() {
      if (timer) { clearInterval(timer); timer = null; }
      section.setAttribute("data-done", "true");
    }
    if (!done) {
      timer = setInterval(tick, 1000);
      tick();
    }
  }

  // ---- Spectrum page: zoom the plot by its viewBox. ----
  // The plot (/api/v1/spectra/ID/plot.svg) spans [data-wmin, data-wmax]
  // across its plotting area (x = 70 .. 980 of a 1000 x 450 canvas).
  var PLOT = { w: 1000, h: 450, left: 70, right: 20 };
  function zoomSpectrum(fig) {
    var src = fig.getAttribute("data-src");
    var wmin = parseFloat(fig.getAttribute("data-wmin"));
    var wmax = parseFloat(fig.getAttribute("data-wmax"));
    var form = document.getElementById("zoom-form");
    var svg = null;
    function x(w) { return PLOT.left + (w - wmin) / (wmax - wmin) * (PLOT.w - PLOT.left - PLOT.right); }
    function apply(a, b) {
      if (!svg) { return; }
      if (!(isFinite(a) && isFinite(b) && b > a)) {
        svg.setAttribute("viewBox", "0 0 " + PLOT.w + " " + PLOT.h);
        svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
        return;
      }
      var x0 = Math.max(0, x(a)), x1 = Math.min(PLOT.w, x(b));
      svg.setAttribute("viewBox", x0 + " 0 " + Math.max(1, x1 - x0) + " " + PLOT.h);
      // Stretch across: the wavelength axis zooms, the flux axis stays.
      svg.setAttribute("preserveAspectRatio", "none");
    }
    fetch(src, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.text();
    }).then(function (text) {
      var doc = new DOMParser().parseFromString(text, "image/svg+xml");
      var root = doc.documentElement;
      if (!root || root.nodeName !== "svg") { return; }
      svg = document.importNode(root, true);
      svg.removeAttribute("width");
      svg.removeAttribute("height");
      svg.setAttribute("role", "img");
      var img = document.getElementById("spectrum-img");
      svg.setAttribute("aria-label", img ? img.getAttribute("alt") : "Spectrum");
      svg.id = "spectrum-svg";
      if (img) { img.replaceWith(svg); } else { fig.prepend(svg); }
      apply(parseFloat(fig.getAttribute("data-zoom-min")), parseFloat(fig.getAttribute("data-zoom-max")));
    }).catch(function () { /* the <img> stays: the full plot without zoom */ });
    if (form) {
      form.addEventListener("submit", function (ev) {
        var rest = document.getElementById("rest");
        var restNow = rest && rest.checked;
        var restWas = /[?&]rest=(1|true|on)/.test(src);
        if (restNow !== restWas || !svg) { return; } // a different plot: reload
        ev.preventDefault();
        var a = parseFloat(document.getElementById("wmin").value);
        var b = parseFloat(document.getElementById("wmax").value);
        apply(a, b);
        var q = new URLSearchParams(new FormData(form));
        history.replaceState(null, "", location.pathname + "?" + q.toString());
      });
    }
  }

  function start() {
    var run = document.getElementById("run");
    if (run) { followRun(run); }
    var fig = document.getElementById("spectrum-figure");
    if (fig) { zoomSpectrum(fig); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
