// The console's only script: repeatable form rows, local times, the playground's live stream,
// the batch uploader and the usage chart.
(function () {
  "use strict";

  // Repeatable rows of a Django formset: a new row takes the next index from the management
  // form's TOTAL_FORMS; a removed row leaves a gap, which the formset reads as an empty row.
  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var template = document.getElementById(add.dataset.addRow);
      var into = document.getElementById(add.dataset.into);
      var total = add.form.querySelector('input[name="' + add.dataset.prefix + '-TOTAL_FORMS"]');
      into.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__prefix__/g, total.value));
      total.value = String(Number(total.value) + 1);
      var first = into.lastElementChild.querySelector("input, textarea");
      if (first) first.focus();
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) remove.parentElement.closest(".kv, .fnrow").remove();
    // An error's API code and message, behind its "details" toggle (wording.Plain).
    var details = event.target.closest("[data-details]");
    if (details) {
      var shown = details.getAttribute("aria-expanded") === "true";
      details.setAttribute("aria-expanded", shown ? "false" : "true");
      details.nextElementSibling.hidden = shown;
      return;
    }
    // The header's sections on a phone: folded behind "Menu".
    var menu = event.target.closest("[data-menu]");
    if (menu) {
      var nav = document.getElementById(menu.dataset.menu);
      var open = nav.classList.toggle("open");
      menu.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    // The copy button beside an id ({% ident %}).
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var done = function () { copy.textContent = "copied"; setTimeout(function () { copy.textContent = "copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(copy.dataset.copy).then(done, function () {});
      else {
        var area = document.createElement("textarea");
        area.value = copy.dataset.copy; document.body.appendChild(area); area.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* nothing to copy with */ }
        area.remove();
      }
    }
  });

  function localTimes(root) {
    root.querySelectorAll("time[data-ts]").forEach(function (el) {
      var ts = Number(el.dataset.ts);
      if (ts) { el.textContent = new Date(ts * 1000).toLocaleString(); el.title = new Date(ts * 1000).toISOString(); }
    });
  }

  // Messages already finished on this page: a resumed stream replays the run from its start.
  var completed = new Set();
  // requires_action events already acted on, per run stream URL (a replay repeats them).
  var actedOn = {};
  var TERMINAL = ["completed", "failed", "cancelled", "expired", "incomplete"];
  // Statuses as words (console/web/wording.py says the same on the server).
  var WORDS = { queued: "Queued", in_progress: "Running", requires_action: "Waiting for the app",
    cancelling: "Cancelling", cancelled: "Cancelled", failed: "Failed", completed: "Done",
    incomplete: "Stopped early", expired: "Expired" };

  function startStream(box) {
    box.dataset.started = "1";
    var turn = box.closest(".msg") || box.parentElement;
    var status = turn.querySelector("[data-run-status]");
    var actionBox = turn.querySelector(".action");
    var parts = {};
    var ended = false;
    var source = new EventSource(box.dataset.streamUrl);

    function setStatus(value) {
      if (!status) return;
      status.textContent = WORDS[value] || value;
      status.dataset.status = value;
      status.className = "status s-" + value;
    }
    function statusOf() { return status ? status.dataset.status : ""; }
    // The finished turn as the thread page shows it: markdown, sources, code and tool calls.
    function showResult() {
      if (!box.dataset.resultUrl || !window.htmx) return;
      htmx.ajax("GET", box.dataset.resultUrl, { target: box, swap: "innerHTML" });
    }
    function part(id) {
      if (!parts[id]) {
        parts[id] = document.createElement("div");
        parts[id].className = "text streaming";
        parts[id].dataset.messageId = id;
        box.appendChild(parts[id]);
      }
      return parts[id];
    }
    function close() {
      source.close();
      box.querySelectorAll(".streaming").forEach(function (el) { el.classList.remove("streaming"); });
      var cancel = turn.querySelector("[data-cancel]");
      if (cancel && TERMINAL.indexOf(statusOf()) >= 0) cancel.remove();
    }
    function on(name, handler) {
      source.addEventListener(name, function (e) {
        var data = null;
        try { data = JSON.parse(e.data); } catch (err) { data = e.data; }
        handler(data);
      });
    }
    on("thread.message.delta", function (d) {
      if (completed.has(d.id)) return;
      (d.delta.content || []).forEach(function (c) {
        if (c.type === "text" && c.text && c.text.value) part(d.id).textContent += c.text.value;
      });
    });
    on("thread.message.completed", function (m) {
      if (completed.has(m.id)) return;
      completed.add(m.id);
      var text = (m.content || []).filter(function (c) { return c.type === "text"; })
        .map(function (c) { return c.text.value; }).join("\n");
      part(m.id).textContent = text;
    });
    ["queued", "in_progress", "cancelling"].forEach(function (s) {
      on("thread.run." + s, function () { setStatus(s); });
    });
    var url = box.dataset.streamUrl;
    var skipActions = actedOn[url] || 0;
    on("thread.run.requires_action", function () {
      if (skipActions > 0) { skipActions -= 1; return; }
      actedOn[url] = (actedOn[url] || 0) + 1;
      setStatus("requires_action");
      close();
      if (actionBox && window.htmx) htmx.ajax("GET", box.dataset.actionUrl, { target: actionBox, swap: "innerHTML" });
    });
    TERMINAL.forEach(function (s) {
      on("thread.run." + s, function () {
        setStatus(s);
        ended = true;
        close();
        showResult();
      });
    });
    on("console.error", function (d) {
      var err = document.createElement("p");
      err.className = "error"; err.setAttribute("role", "alert");
      err.textContent = d.message || "The stream failed.";
      box.appendChild(err);
      close();
    });
    source.onopen = function () {
      // A reconnect replays the run from the start: drop text of messages still being written.
      Object.keys(parts).forEach(function (id) { if (!completed.has(id)) parts[id].textContent = ""; });
    };
    source.addEventListener("done", function () { if (ended) close(); });
    source.onerror = function () {
      // The upstream ends the response after the run's final event; do not reconnect then.
      var s = statusOf();
      if (source.readyState === EventSource.CLOSED || TERMINAL.indexOf(s) >= 0 || s === "requires_action") close();
    };
  }

  // Batch upload: each file goes up on its own request (per-file progress), then one batch is made.
  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers")); } catch (e) { return {}; }
  }

  function uploadOne(url, file, row, onProgress, fields) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      var bar = row.querySelector("progress");
      var note = row.querySelector("[data-note]");
      xhr.open("POST", url);
      var headers = csrfHeaders();
      Object.keys(headers).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); onProgress(); }
      };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = { error: "Upload failed (" + xhr.status + ")." }; }
        bar.value = 100; onProgress();
        if (xhr.status === 200 && body.id) { note.textContent = "added to the store"; resolve(body.id); }
        else { note.textContent = body.error || "failed"; note.className = "error"; resolve(null); }
      };
      xhr.onerror = function () { note.textContent = "network error"; note.className = "error"; resolve(null); };
      var data = new FormData();
      Object.keys(fields || {}).forEach(function (k) { data.append(k, String(fields[k])); });
      data.append("file", file);
      xhr.send(data);
    });
  }

  // The files are announced first (an upload session on the server), then each is sent and attached
  // to the store as soon as it arrives: closing the tab loses only the files not yet sent.
  function startBatch(zone, files) {
    var list = zone.querySelector(".upload-list");
    var overall = zone.querySelector(".overall");
    var overallBar = overall.querySelector("progress");
    var overallText = overall.querySelector("[data-overall]");
    overall.hidden = false;
    list.innerHTML = "";
    var rows = Array.prototype.map.call(files, function (file) {
      var li = document.createElement("li");
      li.innerHTML = '<span class="fname"></span> <progress max="100" value="0"></progress> <small data-note>waiting</small>';
      li.querySelector(".fname").textContent = file.name;
      list.appendChild(li);
      return li;
    });
    function progress() {
      var sum = 0;
      rows.forEach(function (r) { sum += r.querySelector("progress").value; });
      overallBar.value = Math.round(sum / rows.length);
      overallText.textContent = overallBar.value + "% uploaded";
    }
    var announce = new FormData();
    Array.prototype.forEach.call(files, function (file) { announce.append("name", file.name); });
    fetch(zone.dataset.startUrl, { method: "POST", body: announce, headers: csrfHeaders() })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) { overallText.textContent = res.body.error || "The upload could not start."; return; }
        var session = res.body.session;
        showSession(res.body.status_url);
        var sent = 0, next = 0;
        function worker() {
          if (next >= files.length) return Promise.resolve();
          var i = next++;
          rows[i].querySelector("[data-note]").textContent = "uploading";
          return uploadOne(zone.dataset.uploadUrl, files[i], rows[i], progress, { session: session, index: i })
            .then(function (id) { if (id) sent += 1; return worker(); });
        }
        var workers = [];
        for (var w = 0; w < 4; w++) workers.push(worker());
        return Promise.all(workers).then(function () {
          overallText.textContent = sent + " of " + files.length + " uploaded and added to the store; being read…";
          refreshStore();
        });
      });
  }

  // The session's server-rendered progress, polled by htmx, at the top of the Uploads list.
  function showSession(url) {
    if (!window.htmx) return;
    var empty = document.getElementById("no-uploads");
    if (empty) empty.remove();
    var box = document.createElement("div");
    document.getElementById("uploads").prepend(box);
    htmx.ajax("GET", url, { target: box, swap: "outerHTML" });
    refreshStore();
  }

  // The store's counts and file list follow an upload live (they poll while anything is being read).
  function refreshStore() {
    var live = document.getElementById("store-live");
    if (live && window.htmx) htmx.trigger(live, "refresh");
  }

  // Files already in the store (same name and content) are flagged before anything is sent: the
  // server names those of the same name and size, the browser hashes only those, the server compares.
  function askDuplicates(zone, files, hashes) {
    var body = new FormData();
    files.forEach(function (file, i) {
      body.append("name", file.name); body.append("size", String(file.size));
      body.append("sha256", hashes ? hashes[i] : "");
    });
    return fetch(zone.dataset.checkUrl, { method: "POST", body: body, headers: csrfHeaders() })
      .then(function (r) { return r.ok ? r.json() : { duplicates: [] }; })
      .then(function (res) { return res.duplicates || []; }, function () { return []; });
  }

  function sha256(file) {
    return file.arrayBuffer().then(function (buf) { return crypto.subtle.digest("SHA-256", buf); })
      .then(function (digest) {
        return Array.prototype.map.call(new Uint8Array(digest), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      });
  }

  function checkThenStart(zone, chosen) {
    var files = Array.prototype.slice.call(chosen);
    if (!zone.dataset.checkUrl) { startBatch(zone, files); return; }
    askDuplicates(zone, files, null).then(function (sameName) {
      if (!sameName.length) return [];
      var candidates = sameName.map(function (i) { return files[i]; });
      if (!(window.crypto && crypto.subtle)) return sameName;  // an insecure origin: name and size only
      return Promise.all(candidates.map(sha256)).then(function (hashes) {
        return askDuplicates(zone, candidates, hashes).then(function (found) {
          return found.map(function (j) { return sameName[j]; });
        });
      });
    }).then(function (dupes) {
      if (!dupes.length) { startBatch(zone, files); return; }
      var notice = zone.querySelector(".dup-notice");
      var names = dupes.map(function (i) { return files[i].name; });
      notice.querySelector("[data-dup-text]").textContent = dupes.length + " of these file" + (dupes.length === 1 ? " is" : "s are") +
        " already in this store (same name and content): " + names.join(", ") + ".";
      notice.hidden = false;
      notice.querySelector("[data-dup-skip]").onclick = function () {
        notice.hidden = true;
        var rest = files.filter(function (f, i) { return dupes.indexOf(i) < 0; });
        if (rest.length) startBatch(zone, rest);
      };
      notice.querySelector("[data-dup-add]").onclick = function () { notice.hidden = true; startBatch(zone, files); };
    });
  }

  function initUploader(zone) {
    zone.dataset.ready = "1";
    var input = zone.querySelector("input[type=file]");
    input.addEventListener("change", function () { if (input.files.length) checkThenStart(zone, input.files); });
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (e) {
      e.preventDefault(); zone.classList.remove("over");
      if (e.dataTransfer.files.length) checkThenStart(zone, e.dataTransfer.files);
    });
  }

  // Token usage per day on the overview, drawn by the vendored uPlot (static/vendor/).
  function drawUsage(box) {
    box.dataset.ready = "1";
    var source = document.getElementById(box.dataset.usageChart);
    if (!source || !window.uPlot) return;
    var days = JSON.parse(source.textContent);
    var css = getComputedStyle(document.documentElement);
    var accent = css.getPropertyValue("--accent").trim() || "#2563eb";
    var bars = uPlot.paths.bars({ size: [0.7, 40] });
    var data = [
      days.map(function (d) { return d.start_time; }),
      days.map(function (d) { return d.prompt_tokens; }),
      days.map(function (d) { return d.completion_tokens; }),
      days.map(function (d) { return d.total_tokens; })
    ];
    function size() { return { width: Math.max(240, box.clientWidth), height: 200 }; }
    var opts = Object.assign(size(), {
      scales: { x: { time: true } },
      series: [
        { value: "{YYYY}-{MM}-{DD}" },
        { label: "Prompt", stroke: "#64748b", width: 1.5 },
        { label: "Completion", stroke: "#16a34a", width: 1.5 },
        { label: "Total", stroke: accent, fill: accent + "33", paths: bars, points: { show: false } }
      ],
      axes: [{}, { size: 60 }]
    });
    // Cost per day on its own axis, when the project has prices for the models used.
    if (days.some(function (d) { return d.cost !== null && d.cost !== undefined; })) {
      data.push(days.map(function (d) { return d.cost === undefined ? null : d.cost; }));
      opts.series.push({ label: "Cost ($)", scale: "usd", stroke: "#b45309", width: 2,
        value: function (u, v) { return v === null ? "–" : "$" + v.toFixed(2); } });
      opts.axes.push({ scale: "usd", side: 1, size: 60, grid: { show: false },
        values: function (u, vals) { return vals.map(function (v) { return "$" + v; }); } });
    }
    var chart = new uPlot(opts, data, box);
    window.addEventListener("resize", function () { chart.setSize(size()); });
  }

  function init(root) {
    root.querySelectorAll("[data-uploader]:not([data-ready])").forEach(initUploader);
    root.querySelectorAll("[data-usage-chart]:not([data-ready])").forEach(drawUsage);
    localTimes(root);
    root.querySelectorAll("[data-stream-url]:not([data-started])").forEach(startStream);
  }

  // What inline hx-on handlers did before the CSP: clear a field after a successful post, or ask
  // another element to refresh itself.
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.target.closest && e.target.closest("[data-clear-on-success], [data-refresh-after]");
    if (!form || !e.detail.successful || e.detail.xhr.status >= 300) return;
    if (form.dataset.clearOnSuccess && form.elements[form.dataset.clearOnSuccess]) form.elements[form.dataset.clearOnSuccess].value = "";
    if (form.dataset.refreshAfter && window.htmx) htmx.trigger(form.dataset.refreshAfter, "refresh");
  });

  // A box shown only for one choice of a select (the JSON schema for "JSON schema").
  document.addEventListener("change", function (e) {
    var select = e.target.closest && e.target.closest("select[data-shows]");
    if (!select) return;
    var box = document.getElementById(select.dataset.shows);
    if (box) box.hidden = select.value !== select.dataset.showsWhen;
  });

  // Enter sends the playground's message; Shift+Enter starts a new line.
  document.addEventListener("keydown", function (e) {
    var box = e.target.closest && e.target.closest("textarea[data-enter-sends]");
    if (!box || e.key !== "Enter" || e.shiftKey || e.isComposing) return;
    e.preventDefault();
    if (box.value.trim() && box.form) box.form.requestSubmit();
  });

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    document.body.addEventListener("htmx:load", function (e) { init(e.target.parentElement || e.target); });
  });
})();
