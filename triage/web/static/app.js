/* Enhancements only: every page works without this script.
   1. "None" / "I don't know" checkboxes untick the others (the server checks it too).
   2. On a patient's page, warn before the idle session ends, let them stay, then close the page.
   3. Focus the error summary when a page shows one.
   4. The language switch carries what was ticked or typed on this page and not yet sent (without the
      script it is a plain link: the page says to press Continue first).
   5. On a staff page, the red-flag banner and the title's count follow the store, a new alert's row
      appears in the worklist, and the page reloads (to sign-in) when the poll finds the session ended. */
(function () {
  "use strict";

  // The records checklist: a Print button (hidden without this script: the browser's Print works).
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  // Records upload forms: one press sends once (a slow phone upload invites a second press).
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
      form.setAttribute("aria-busy", "true");
    });
  });

  document.querySelectorAll("input[type=checkbox][name=answer]").forEach(function (box) {
    box.addEventListener("change", function () {
      if (!box.checked) { return; }
      var group = document.querySelectorAll("input[type=checkbox][name=answer]");
      var exclusive = box.hasAttribute("data-exclusive");
      group.forEach(function (other) {
        if (other !== box && (exclusive || other.hasAttribute("data-exclusive"))) { other.checked = false; }
      });
      if (box.closest(".fieldset")) {
        box.closest(".fieldset").querySelectorAll(".date-input input").forEach(function (input) {
          if (exclusive) { input.value = ""; }
        });
      }
    });
  });

  // Staff pages: the red-flag banner follows the store without a reload (every 5 seconds).
  var staffPage = document.body;
  var alertsUrl = staffPage.getAttribute("data-alerts-url");
  var banner = document.getElementById("alert-banner");
  var bannerText = document.getElementById("alert-banner-text");
  if (alertsUrl && banner && bannerText && window.fetch) {
    // The poll takes the page off the screen when the session ends: the no-script cover (idle.css) is
    // not needed, and must not hide a page kept open while its user works in another tab.
    document.documentElement.classList.add("idle-script");
    // On the worklist, a new alert's row appears without a reload: the same page is fetched again
    // (the server sorts it: open red flags first) and its rows replace these.
    var rows = document.getElementById("worklist-rows");
    var latest = staffPage.getAttribute("data-alerts-latest") || "0";
    var refreshRows = function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Triage-Refresh": "rows" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("worklist-rows");
          if (fresh) { rows.innerHTML = fresh.innerHTML; }
        })
        .catch(function () { /* the next new alert tries again */ });
    };
    var poll = function () {
      fetch(alertsUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (response.status === 401) { window.location.reload(); return null; }
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (!data) { return; }
          // The title carries the open-alert count (seen from another tab), as the server writes it.
          var title = document.title.replace(/^\(\d+ red flags?\) /, "");
          document.title = (data.intakes > 0 ? "(" + data.intakes + " red flag" + (data.intakes === 1 ? "" : "s") + ") " : "") + title;
          if (rows && String(data.latest) !== latest) { refreshRows(); }
          latest = String(data.latest);
          if (data.intakes > 0) {
            var text = data.intakes + (data.intakes === 1 ? " intake" : " intakes") +
              " with a red flag not yet acknowledged" + (data.emergency ? " (" + data.emergency + " emergency)" : "");
            if (bannerText.textContent !== text) { bannerText.textContent = text; }
            banner.hidden = false;
          } else {
            banner.hidden = true;
          }
        })
        .catch(function () { /* the next poll tries again */ });
    };
    window.setInterval(poll, 5000);
  }

  document.querySelectorAll(".language-switch a[hreflang]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var form = document.querySelector("form[data-language-carry]");
      if (!form || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
      event.preventDefault();
      form.setAttribute("action", link.getAttribute("href"));
      form.submit();  // the server keeps the entries for this page only; it saves no answer
    });
  });

  var summary = document.querySelector("[data-focus]");
  if (summary) { summary.focus(); }

  var body = document.body;
  var idle = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  var warn = parseInt(body.getAttribute("data-warn-seconds") || "0", 10);
  var warning = document.getElementById("idle-warning");
  if (idle > 0 && warning) {
    // This script warns and ends the session itself: the no-script cover (idle.css) is not needed.
    document.documentElement.classList.add("idle-script");
    var stay = document.getElementById("idle-stay");
    var leave = document.getElementById("idle-leave");
    var warnTimer, endTimer;
    var arm = function () {
      clearTimeout(warnTimer); clearTimeout(endTimer);
      warning.hidden = true;
      warnTimer = setTimeout(function () {
        warning.hidden = false;
        var button = stay.querySelector("button");
        if (button) { button.focus(); }
      }, Math.max(0, idle - warn) * 1000);
      // A little before the server's limit, so the session is ended by us and the page is cleared.
      endTimer = setTimeout(function () { leave.submit(); }, Math.max(1, idle - 5) * 1000);
    };
    stay.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch(stay.action, { method: "POST", body: new FormData(stay), credentials: "same-origin" })
        .then(function (response) { if (response.ok) { arm(); } else { window.location.reload(); } });
    });
    arm();
  }
})();
