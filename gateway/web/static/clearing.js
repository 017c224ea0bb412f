// Clearing desk keys: the clerk never needs the mouse. Enter saves (the form's first button).
(function () {
  "use strict";
  var form = document.getElementById("clear-form");
  var code = document.getElementById("code");

  function go(id) {
    var link = document.getElementById(id);
    if (link) { window.location.assign(link.href); }
  }

  function insertAtCaret(field, text) {
    var start = field.selectionStart, end = field.selectionEnd, value = field.value;
    field.value = value.slice(0, start) + text + value.slice(end);
    field.selectionStart = field.selectionEnd = start + text.length;
  }

  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" || e.key === "PageDown") { e.preventDefault(); go("next"); return; }
    if (e.key === "ArrowUp" || e.key === "PageUp") { e.preventDefault(); go("prev"); return; }
    if (!form || !code) { return; }
    if (e.altKey && (e.key === "r" || e.key === "R")) { e.preventDefault(); document.getElementById("relabelled").click(); return; }
    if (e.altKey && (e.key === "s" || e.key === "S")) { e.preventDefault(); document.getElementById("returned").click(); return; }
    if (e.key === "Escape") { code.value = ""; code.focus(); return; }
    // A keyboard wedge may send the GS1 separator as Ctrl+]: keep it as the GS token.
    if (e.ctrlKey && e.key === "]" && document.activeElement === code) {
      e.preventDefault();
      insertAtCaret(code, form.getAttribute("data-gs-token") || "<GS>");
    }
  });

  document.body.setAttribute("data-keys", "ready"); // the keys work from here on
  if (code) {
    code.focus();
    var current = document.querySelector("#queue tr.current");
    if (current && current.scrollIntoView) { current.scrollIntoView({ block: "nearest" }); }
  }
}());
