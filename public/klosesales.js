// The workspace's balance, always on screen in the chat (issue 18, item 10).
//
// A badge at the top of the page shows "Balance: 510 credits" from GET /billing/balance
// (the signed-in user's own workspace; chat_app/balance.py). It is read when the page
// opens, whenever something new appears in the conversation (an answer with its charge,
// a "call ended" or "payment received" notice: what changes the balance), when the tab
// comes back into view, and every 15 s. Clicking it opens the buy page in a new tab, so
// the chat stays open to announce the payment.
(function () {
  "use strict";
  var URL = "/billing/balance";
  var PERIOD_MS = 15000;
  var QUIET_MS = 600; // after the last change on the page, read once
  var badge = null;
  var pending = null;
  var busy = false;

  function ensureBadge() {
    if (badge && document.body.contains(badge)) return badge;
    badge = document.createElement("a");
    badge.id = "ks-balance";
    badge.href = "/billing/buy";
    badge.target = "_blank";
    badge.rel = "noopener";
    badge.title = "Buy credits";
    badge.hidden = true;
    badge.setAttribute("aria-live", "polite");
    document.body.appendChild(badge);
    return badge;
  }

  function refresh() {
    if (busy) return;
    busy = true;
    fetch(URL, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) {
          ensureBadge().hidden = true;
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) return;
        var el = ensureBadge();
        if (el.textContent !== data.label) el.textContent = data.label;
        el.dataset.balance = data.balance;
        el.dataset.available = data.available;
        el.classList.toggle("ks-frozen", Boolean(data.frozen));
        el.hidden = false;
      })
      .catch(function () {
        /* offline for a moment: the next read catches up */
      })
      .then(function () {
        busy = false;
      });
  }

  function soon() {
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () {
      pending = null;
      refresh();
    }, QUIET_MS);
  }

  function outsideBadge(mutation) {
    return !(badge && (mutation.target === badge || badge.contains(mutation.target)));
  }

  function start() {
    ensureBadge();
    refresh();
    setInterval(refresh, PERIOD_MS);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) refresh();
    });
    new MutationObserver(function (mutations) {
      for (var i = 0; i < mutations.length; i++) {
        if (mutations[i].addedNodes.length && outsideBadge(mutations[i])) {
          soon();
          return;
        }
      }
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
