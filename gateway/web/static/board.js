// Live station board: refetch the server-rendered rows whenever the server sends a board event.
(function () {
  "use strict";
  var live = document.getElementById("board-live");
  if (!live) { return; }
  var status = document.getElementById("live-status");
  var banner = document.getElementById("store-banner");
  var offset = 0; // server clock minus browser clock (data-now, then each X-Now-Ms header)

  function setStatus(text, on) {
    status.textContent = text;
    status.className = on ? "live-status on" : "live-status";
  }

  function age(ms) {
    var s = Math.max(0, Math.floor((Date.now() + offset - ms) / 1000));
    if (s < 60) { return s + " s"; }
    if (s < 3600) { return Math.floor(s / 60) + " min"; }
    if (s < 86400) { return Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min"; }
    return Math.floor(s / 86400) + " d";
  }

  function syncClock(serverNow) {
    if (serverNow) { offset = Number(serverNow) - Date.now(); }
  }

  function tick() {
    var cells = live.querySelectorAll("[data-since-ms]");
    for (var i = 0; i < cells.length; i++) {
      cells[i].textContent = age(Number(cells[i].getAttribute("data-since-ms")));
    }
  }

  function storeDown(text) {
    banner.textContent = text; // plain text: never parsed as markup
    banner.hidden = false;
    setStatus("store down", false);
  }

  function refresh() {
    fetch(live.getAttribute("data-live-url"), { credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 503) {
          return r.text().then(function (text) { storeDown(text); return null; });
        }
        if (!r.ok) { throw new Error(r.status); }
        syncClock(r.headers.get("X-Now-Ms"));
        return r.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        live.innerHTML = html; // server-rendered and escaped by Jinja
        banner.hidden = true;
        setStatus("live", true);
        tick();
        live.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { setStatus("update failed, retrying", false); });
  }

  function connect() {
    var source = new EventSource(live.getAttribute("data-events-url"));
    source.addEventListener("board", refresh);
    source.addEventListener("store", function (e) { storeDown("store " + e.data); });
    source.onopen = function () { setStatus("live", true); };
    source.onerror = function () {
      setStatus("reconnecting…", false);
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, 5000); }
    };
  }

  var form = document.getElementById("board-filters");
  if (form) {
    form.addEventListener("change", function () { form.submit(); });
  }
  syncClock(live.getAttribute("data-now"));
  setInterval(tick, 1000);
  connect();
})();
