/* complaintdesk console: countdowns, counts, shortcuts, composer, uploads, action polling. Our own code. */
(function () {
  "use strict";
  var lang = document.body.getAttribute("data-lang") === "en" ? "en" : "zh";
  var T = {
    zh: { states: { pending: "等待发送", sending: "发送中", uncertain: "结果未知，核对中", sent: "已发送", failed: "失败" }, left: "剩余", over: "已超时", d: "天", h: "小时", m: "分", tooBig: "超过大小限制", badType: "只接受 JPG、PNG 或 BMP",
          tooMany: "最多 4 张图片", uploading: "上传中…", failed: "失败" },
    en: { states: { pending: "waiting to be sent", sending: "sending", uncertain: "outcome unknown, checking", sent: "sent", failed: "failed" }, left: "left", over: "overdue", d: "d", h: "h", m: "m", tooBig: "is larger than allowed", badType: "only JPG, PNG or BMP",
          tooMany: "at most 4 images", uploading: "uploading…", failed: "failed" }
  }[lang];
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var WARNING_MS = parseInt(document.body.getAttribute("data-warning-ms"), 10) || 4 * 3600 * 1000;

  function post(url, body) {
    return fetch(url, { method: "POST", body: body || new FormData(), credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } });
  }

  function span(ms) {
    var total = Math.floor(Math.abs(ms) / 60000), d = Math.floor(total / 1440), h = Math.floor((total % 1440) / 60), m = total % 60;
    if (d > 0) return d + T.d + " " + h + T.h;
    if (h > 0) return h + T.h + " " + m + T.m;
    return m + T.m;
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = due - now;
      el.classList.toggle("breached", left < 0);
      el.classList.toggle("warning", left >= 0 && (left < WARNING_MS || el.getAttribute("data-state") === "warning"));
      el.textContent = left < 0 ? T.over + " " + span(left) : (lang === "en" ? span(left) + " " + T.left : T.left + " " + span(left));
    });
  }
  tick();
  setInterval(tick, 1000);

  /* Inbox: view counts, refreshed every 20 s without reloading. */
  var views = document.getElementById("views");
  function refreshCounts() {
    if (!views) return;
    fetch(views.getAttribute("data-counts-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        Object.keys(data.counts || {}).forEach(function (key) {
          var el = views.querySelector('[data-count="' + key + '"]');
          if (el) el.textContent = data.counts[key] > data.cap ? data.cap + "+" : String(data.counts[key]);
        });
      }).catch(function () {});
  }
  if (views) { refreshCounts(); setInterval(refreshCounts, 20000); }

  var all = document.getElementById("check-all");
  if (all) all.addEventListener("change", function () {
    document.querySelectorAll('table.inbox input[name="ids"]').forEach(function (b) { b.checked = all.checked; });
  });

  /* Keyboard shortcuts: j/k move, o/Enter open, r reply, / search, ? help (ignored while typing). */
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.inbox tbody tr[data-href]"));
  var cursor = -1;
  function move(step) {
    if (!rows.length) return;
    if (cursor >= 0) rows[cursor].classList.remove("cursor");
    cursor = Math.max(0, Math.min(rows.length - 1, cursor + step));
    rows[cursor].classList.add("cursor");
    rows[cursor].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (ev) {
    var t = ev.target, tag = t && t.tagName;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable)) return;
    var help = document.getElementById("help");
    if (ev.key === "j") { move(1); ev.preventDefault(); }
    else if (ev.key === "k") { move(-1); ev.preventDefault(); }
    else if ((ev.key === "o" || ev.key === "Enter") && cursor >= 0) { location.href = rows[cursor].getAttribute("data-href"); ev.preventDefault(); }
    else if (ev.key === "r") {
      var reply = document.getElementById("reply");
      if (reply) { reply.focus(); ev.preventDefault(); }
      else if (cursor >= 0) { location.href = rows[cursor].getAttribute("data-href") + "#composer"; ev.preventDefault(); }
    }
    else if (ev.key === "/") { var s = document.getElementById("search"); if (s) { s.focus(); s.select(); ev.preventDefault(); } }
    else if (ev.key === "?" && help && help.showModal) { help.showModal(); ev.preventDefault(); }
  });

  /* Forms checked here before they are sent: the message (from the page, in its language) goes next to
     the field, and nothing is sent (registered before the confirmations, so no question is asked). */
  function say(id, message) { var el = document.getElementById(id); if (el) el.textContent = message || ""; }
  function chosen(form, name) { var el = form.querySelector('[name="' + name + '"]:checked'); return el ? el.value : ""; }
  function tooLong(field) {
    var limit = parseInt(field.getAttribute("data-limit"), 10);
    return limit > 0 && Array.from(field.value.trim()).length > limit;
  }
  var replyForm = document.getElementById("reply-form");
  function shown(id) { var el = document.getElementById(id); return !!(el && el.textContent); }
  function checkReply(show) { /* show: say every error; else only update (or clear) those already said */
    var f = replyForm, text = f.querySelector('[name="content"]'), agree = f.querySelector('[name="agree"]');
    var action = chosen(f, "mp_action"), empty = !text.value.trim(), images = f.querySelectorAll('input[name="images"]').length;
    var content = "", agreeError = "";
    if (tooLong(text)) content = f.getAttribute("data-msg-too-long");
    else if (action === "respond" && agree && agree.value === "0" && empty) content = f.getAttribute("data-msg-reason");
    else if (empty && !images && (action || text.required)) content = f.getAttribute("data-msg-empty");
    if (action === "respond" && agree && agree.value === "") agreeError = f.getAttribute("data-msg-agree");
    if (show || shown("error-content")) say("error-content", content);
    if (show || shown("error-agree")) say("error-agree", agreeError);
    var label = document.getElementById("reply-label");
    if (label) label.classList.toggle("required", text.required || (action === "respond" && !!agree && agree.value === "0"));
    return !content && !agreeError;
  }
  if (replyForm) {
    replyForm.addEventListener("submit", function (ev) {
      if (!checkReply(true)) { ev.preventDefault(); ev.stopImmediatePropagation(); var bad = replyForm.querySelector(".field-error:not(:empty)"); if (bad) bad.scrollIntoView({ block: "nearest" }); }
    });
    replyForm.addEventListener("change", function (ev) { if (ev.target.name === "agree" || ev.target.name === "mp_action") checkReply(false); });
    replyForm.addEventListener("input", function () { checkReply(false); });
  }
  var completeForm = document.getElementById("complete-form");
  if (completeForm) completeForm.addEventListener("submit", function (ev) {
    var text = completeForm.querySelector('[name="content"]');
    if (!text) return;
    var message = tooLong(text) ? text.getAttribute("data-msg-too-long") : (text.value.trim() ? "" : text.getAttribute("data-msg-empty"));
    say("error-complete-content", message);
    if (message) { ev.preventDefault(); ev.stopImmediatePropagation(); text.focus(); }
  });

  /* Forms that ask before they act. */
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (ev) { if (!window.confirm(f.getAttribute("data-confirm"))) ev.preventDefault(); });
  });

  /* Reply composer: live counter against the channel's limit. */
  var reply = document.getElementById("reply");
  var counter = document.getElementById("reply-counter");
  function count() {
    if (!reply || !counter) return;
    var limit = parseInt(reply.getAttribute("data-limit"), 10) || 200, n = Array.from(reply.value).length;
    counter.textContent = n + " / " + limit;
    counter.classList.toggle("over", n > limit);
    var send = document.querySelector('[data-testid="send-reply"]');
    if (send) send.disabled = n > limit;
    var form = reply.form, error = document.getElementById("error-content");
    if (form && error && (n > limit || error.textContent === form.getAttribute("data-msg-too-long"))) {
      error.textContent = n > limit ? form.getAttribute("data-msg-too-long") : "";
    }
  }
  if (reply) { reply.addEventListener("input", count); count(); }

  /* Templates: preview rendered by the server (sandboxed), then copied into the reply on request. */
  var select = document.getElementById("template"), preview = document.getElementById("template-preview");
  var use = document.getElementById("use-template");
  if (select && preview) select.addEventListener("change", function () {
    if (!select.value) { preview.hidden = true; if (use) use.hidden = true; return; }
    var body = new FormData(); body.append("template_id", select.value);
    post(select.getAttribute("data-preview-url"), body).then(function (r) { return r.json(); }).then(function (data) {
      preview.hidden = false;
      preview.textContent = data.text !== undefined ? data.text : data.error;
      preview.classList.toggle("field-error", data.text === undefined);
      if (use) use.hidden = data.text === undefined;
    });
  });
  if (use && reply) use.addEventListener("click", function () { reply.value = preview.textContent; count(); reply.focus(); });

  /* Evidence images: checked here (type, size), uploaded to the archive, sent with the reply by hash. */
  var files = document.getElementById("reply-images"), thumbs = document.getElementById("reply-thumbs");
  var uploadError = document.getElementById("upload-error"), uploading = 0;
  if (files && thumbs) files.addEventListener("change", function () {
    var max = parseInt(files.getAttribute("data-max-bytes"), 10), form = files.form, refused = "";
    var most = parseInt(files.getAttribute("data-max-count"), 10) || 4;
    var types = (files.getAttribute("data-types") || "image/jpeg,image/png,image/bmp").split(",");
    function show(text) { uploadError.textContent = refused || text; } /* a refusal stays until the next choice */
    uploadError.textContent = "";
    Array.prototype.forEach.call(files.files, function (file) {
      if (form.querySelectorAll('input[name="images"]').length + uploading >= most) { refused = form.getAttribute("data-msg-too-many") || T.tooMany; return show(""); }
      if (types.indexOf(file.type) < 0) { refused = file.name + ": " + (form.getAttribute("data-msg-bad-type") || T.badType); return show(""); }
      if (file.size > max) { refused = file.name + ": " + (form.getAttribute("data-msg-too-big") || T.tooBig); return show(""); }
      uploading += 1;
      var body = new FormData(), complaint = document.querySelector("[data-complaint]");
      body.append("file", file);
      if (complaint) body.append("complaint_id", complaint.getAttribute("data-complaint"));
      show(T.uploading);
      post(files.getAttribute("data-upload-url"), body).then(function (r) { return r.json().then(function (d) { return [r.ok, d]; }); })
        .then(function (res) {
          uploading -= 1;
          if (!res[0]) { refused = file.name + ": " + (res[1].error || T.failed); return show(""); }
          show(uploading ? T.uploading : "");
          var hidden = document.createElement("input");
          hidden.type = "hidden"; hidden.name = "images"; hidden.value = res[1].sha256;
          form.appendChild(hidden);
          var img = document.createElement("img");
          img.src = URL.createObjectURL(file); img.alt = file.name; img.setAttribute("data-sha", res[1].sha256);
          thumbs.appendChild(img);
        }).catch(function () { uploading -= 1; refused = file.name + ": " + T.failed; show(""); });
    });
    files.value = "";
  });

  /* Phone: revealed on request (the server audits it). */
  var reveal = document.getElementById("reveal");
  if (reveal) reveal.addEventListener("click", function () {
    post(reveal.getAttribute("data-url")).then(function (r) { return r.json(); }).then(function (data) {
      if (data.phone) { document.getElementById("phone").textContent = data.phone; reveal.remove(); }
    });
  });

  /* Image viewer: click a thumbnail to enlarge. */
  var viewer = document.getElementById("viewer");
  document.addEventListener("click", function (ev) {
    var img = ev.target;
    if (viewer && img.tagName === "IMG" && img.closest(".thumbs")) { viewer.querySelector("img").src = img.src; viewer.classList.add("open"); }
    else if (viewer && viewer.contains(img)) viewer.classList.remove("open");
  });

  /* Our actions: poll their state until they are sent or failed, then show the refreshed timeline. */
  var list = document.querySelector("[data-actions-url]");
  function open() { return document.querySelectorAll(".state.pending, .state.sending, .state.uncertain").length; }
  function poll() {
    if (!list || !open() || (window.EventSource && document.querySelector("[data-live]"))) return; /* live.js refreshes */
    fetch(list.getAttribute("data-actions-url"), { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
      var changed = false;
      (data.actions || []).forEach(function (a) {
        var el = list.querySelector('[data-action="' + a.id + '"]');
        if (el && el.getAttribute("data-state") !== a.status) {
          el.setAttribute("data-state", a.status); el.className = "state " + a.status;
          el.textContent = T.states[a.status] || a.status; changed = true;
        }
      });
      if (changed && !open() && (!reply || !reply.value)) location.reload();
      else setTimeout(poll, 1500);
    }).catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
