/* complaintdesk console, live: follows /live (server-sent events) to refresh the inbox rows and an open
   complaint's timeline without reloading, shows colleagues on the same complaint, and says when this
   operator is composing. Our own code. */
(function () {
  "use strict";
  var host = document.querySelector("[data-live]");
  if (!host || !window.EventSource) return;
  var lang = document.body.getAttribute("data-lang") === "en" ? "en" : "zh";
  var T = {
    zh: { viewing: "正在查看", composing: "正在输入回复", also: "同事也在处理：" },
    en: { viewing: "viewing", composing: "composing a reply", also: "Also on this complaint: " }
  }[lang];
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var onComplaint = host.hasAttribute("data-complaint");
  var tab = null, busy = false, again = false, timer = null;

  function schedule() {
    if (timer) return;
    timer = setTimeout(function () { timer = null; refresh(); }, 250);
  }

  function fetchPage(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { return html ? new DOMParser().parseFromString(html, "text/html") : null; });
  }

  function swap(doc, selector) {
    var fresh = doc.querySelector(selector), old = document.querySelector(selector);
    if (fresh && old && fresh.innerHTML !== old.innerHTML) { old.innerHTML = fresh.innerHTML; return true; }
    return false;
  }

  function refreshInbox(doc) {
    var checked = {};
    document.querySelectorAll('table.inbox input[name="ids"]:checked').forEach(function (b) { checked[b.value] = true; });
    var known = {};
    document.querySelectorAll("table.inbox tbody tr[data-id]").forEach(function (r) { known[r.getAttribute("data-id")] = true; });
    if (swap(doc, "table.inbox tbody")) {
      document.querySelectorAll("table.inbox tbody tr[data-id]").forEach(function (r) {
        var id = r.getAttribute("data-id"), box = r.querySelector('input[name="ids"]');
        if (box && checked[id]) box.checked = true;
        if (!known[id]) r.classList.add("fresh");
      });
    }
    swap(doc, "#views");
  }

  function refreshComplaint(doc) {
    var changed = swap(doc, "#timeline ul.timeline");
    ["h1", "dl.facts"].forEach(function (selector) { swap(doc, selector); });
    if (changed) {
      var notice = document.getElementById("live-notice");
      if (notice) notice.hidden = false;
    }
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetchPage(onComplaint ? location.pathname : location.href).then(function (doc) {
      if (doc) (onComplaint ? refreshComplaint : refreshInbox)(doc);
    }).catch(function () {}).then(function () {
      busy = false;
      if (again) { again = false; schedule(); }
    });
  }

  function showPresence(people) {
    var el = document.getElementById("presence");
    if (!el) return;
    el.textContent = "";
    el.hidden = !people.length;
    if (!people.length) return;
    el.appendChild(document.createTextNode(T.also));
    people.forEach(function (p, i) {
      var who = document.createElement("span");
      who.className = "person " + p.state;
      who.setAttribute("data-state", p.state);
      who.textContent = p.name + " " + (T[p.state] || p.state);
      if (i) el.appendChild(document.createTextNode(lang === "en" ? ", " : "，"));
      el.appendChild(who);
    });
  }

  var source = new EventSource(host.getAttribute("data-live"));
  source.addEventListener("hello", function (ev) {
    tab = JSON.parse(ev.data).tab;
    host.setAttribute("data-live-ready", "1");
    /* What changed between rendering this page and subscribing (an action sent meanwhile) has no event. */
    if (onComplaint) schedule();
  });
  source.addEventListener("complaint", schedule);
  source.addEventListener("timeline", schedule);
  source.addEventListener("presence", function (ev) { showPresence(JSON.parse(ev.data).people || []); });
  source.addEventListener("ended", function () { source.close(); });

  /* Composing: say so when typing starts in the composer, and back to viewing after a pause. */
  var state = "viewing", idle = null;
  function tell(next) {
    if (!tab || state === next) return;
    state = next;
    var body = new FormData(); body.append("tab", tab); body.append("state", next);
    fetch("/live/presence", { method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } }).catch(function () {});
  }
  var composer = document.getElementById("composer");
  if (onComplaint && composer) composer.addEventListener("input", function (ev) {
    if (ev.target.tagName !== "TEXTAREA") return;
    tell("composing");
    clearTimeout(idle);
    idle = setTimeout(function () { tell("viewing"); }, 20000);
  });
})();
