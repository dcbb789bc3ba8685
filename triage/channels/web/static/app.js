/* Enhancements only: every page works without this script.
   1. "None" / "I don't know" checkboxes untick the others (the server checks it too).
   2. On a patient's page, warn before the idle session ends, let them stay, then close the page.
   3. Focus the error summary when a page shows one.
   4. The language switch carries what was ticked or typed on this page and not yet sent (without the
      script it is a plain link: the page says to press Continue first).
   5. On a staff page, the red-flag banner and the title's count follow the store, a new alert's row
      appears in the worklist, and the page reloads (to sign-in) when the poll finds the session ended.
   6. On a staff page of a member who turned the alert sound on (their setting, off by default), a
      short tone when the poll finds a new red-flag alert (once per alert in one browser, however
      many staff tabs are open). */
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
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("worklist-rows");
          if (fresh) { rows.innerHTML = fresh.innerHTML; }
          // The caption counts the rows ("2 intakes; urgent first"): it follows them.
          var caption = document.getElementById("table-caption");
          var freshCaption = doc.getElementById("table-caption");
          if (caption && freshCaption) { caption.textContent = freshCaption.textContent; }
        })
        .catch(function () { /* the next new alert tries again */ });
    };
    // The alert sound: a tone made here with the Web Audio API (no file to load). Browsers start an
    // AudioContext only after a click or key press on the page, so the first one unlocks it; a new alert
    // before that shows a line in the banner asking for that click instead.
    var soundOn = staffPage.getAttribute("data-alert-sound") === "on";
    var blocked = document.getElementById("alert-sound-blocked");
    var audio = null;
    var audioContext = function () {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) { return null; }
      if (!audio) { audio = new Context(); }
      if (audio.state === "suspended" && audio.resume) { audio.resume(); }
      return audio;
    };
    var unlock = function () {
      if (audioContext() && blocked) { blocked.hidden = true; }
    };
    var beep = function (context) {
      var start = context.currentTime;
      [0, 0.3].forEach(function (offset) {  // two short beeps, 880 Hz, soft edges (no click)
        var tone = context.createOscillator();
        var gain = context.createGain();
        tone.type = "sine";
        tone.frequency.value = 880;
        gain.gain.setValueAtTime(0.0001, start + offset);
        gain.gain.exponentialRampToValueAtTime(0.3, start + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.2);
        tone.connect(gain);
        gain.connect(context.destination);
        tone.start(start + offset);
        tone.stop(start + offset + 0.22);
      });
    };
    var playTone = function (clicked) {
      var context = audioContext();
      if (!context) { return; }
      if (context.state === "running") {
        beep(context);
      } else if (clicked === true) {
        context.resume().then(function () { beep(context); });  // this click lets it start
      } else if (blocked) {
        blocked.hidden = false;  // it would play late, at the next click: the banner says so instead
      }
    };
    // Several staff tabs open in one browser hear one sound per new alert, not one per tab: a tab that
    // can play claims the alert's number in this browser's storage (one tab at a time, under a Web
    // Lock); a tab that finds it claimed already stays quiet. A tab that cannot play yet claims
    // nothing and shows its banner line, so a tab that can play still plays.
    var CLAIM = "triage-alert-sound-played";
    var soundFor = function (number) {
      var claim = function () {
        var context = audioContext();
        if (!context || context.state !== "running") { playTone(); return; }  // the banner line
        try {
          if (Number(window.localStorage.getItem(CLAIM) || 0) >= number) { return; }
          window.localStorage.setItem(CLAIM, String(number));
        } catch (e) { /* no storage (a private window): this tab plays */ }
        playTone();
      };
      if (navigator.locks && navigator.locks.request) {
        navigator.locks.request(CLAIM, claim).catch(function () { playTone(); });
      } else {
        claim();
      }
    };
    if (soundOn) {
      document.addEventListener("pointerdown", unlock, { once: true });
      document.addEventListener("keydown", unlock, { once: true });
    }
    var tryButton = document.getElementById("alert-sound-try");
    if (tryButton) {
      tryButton.hidden = false;
      tryButton.addEventListener("click", function () { playTone(true); });
    }
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
          // "latest" only grows (the newest alert's number): a higher one is a new alert, and with an
          // open one the sound plays once for it (the next poll sees the same number).
          if (soundOn && Number(data.latest) > Number(latest) && data.intakes > 0) { soundFor(Number(data.latest)); }
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

  // Password boxes with a Show button (templates/staff/_password_input.html): the button toggles the
  // box between hidden and shown text; sending the form hides it again first, and so does coming back
  // to the page from the browser's history.
  document.querySelectorAll("[data-password-input]").forEach(function (wrapper) {
    var input = wrapper.querySelector("input");
    var toggle = wrapper.querySelector("button");
    var status = wrapper.querySelector("[data-password-status]");
    if (!input || !toggle) { return; }
    var show = function (visible, say) {
      input.type = visible ? "text" : "password";
      toggle.textContent = visible ? "Hide" : "Show";
      toggle.setAttribute("aria-label", toggle.getAttribute(visible ? "data-hide-label" : "data-show-label"));
      if (status && say) { status.textContent = visible ? "Your password is shown" : "Your password is hidden"; }
    };
    toggle.hidden = false;
    toggle.addEventListener("click", function () { show(input.type === "password", true); });
    if (input.form) { input.form.addEventListener("submit", function () { show(false, false); }); }
    window.addEventListener("pageshow", function () { show(false, false); });
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
