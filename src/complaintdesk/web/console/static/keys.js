/* Complaint page keys: j / k open the next / previous complaint of the inbox view the operator came
   from, Ctrl+Enter (Cmd+Enter) sends the composer form being typed in. r (focus the composer) and ?
   (help) are handled by console.js. Letters are ignored while typing in a field. */
(function () {
  "use strict";
  var nav = document.getElementById("complaint-nav");
  if (!nav) return;
  var KEY = "complaintdesk.view";
  var query = nav.getAttribute("data-query") || "";
  try {  /* the view survives the redirect after a reply, which carries no query */
    if (query) sessionStorage.setItem(KEY, query);
    else query = sessionStorage.getItem(KEY) || "";
  } catch (e) { /* storage disabled: links keep the page's own query */ }
  if (query) {
    nav.querySelectorAll("a[data-nav]").forEach(function (a) {
      a.setAttribute("href", a.getAttribute("href").split("?")[0] + "?" + query);
    });
  }

  function typing(t) {
    var tag = t && t.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable);
  }

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && t && t.tagName === "TEXTAREA" &&
        t.form && t.form.closest("#composer")) {
      ev.preventDefault();
      if (t.form.requestSubmit) t.form.requestSubmit(); else t.form.submit();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(t)) return;
    var which = ev.key === "j" ? "next" : ev.key === "k" ? "previous" : "";
    var link = which && nav.querySelector('a[data-nav="' + which + '"]');
    if (link) { ev.preventDefault(); location.href = link.href; }
  });
})();
