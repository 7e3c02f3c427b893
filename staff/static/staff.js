// The reply box's SMS part count as one types, and frequent answers put into the box.
// Progressive: without this script the page works and the server shows the count after
// a submit. The rule mirrors notifications/smsparts.py: GSM 7-bit when every character is
// in the GSM 03.38 alphabet (extension characters take two septets), else UCS-2 (UTF-16
// units); 160/153 septets or 70/67 units per single/concatenated part, cut on characters.
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "\f^{}\\[~]|€";

  function count(widths, single, part) {
    var total = 0, i;
    for (i = 0; i < widths.length; i++) { total += widths[i]; }
    if (total <= single) { return 1; }
    var parts = 1, used = 0;
    for (i = 0; i < widths.length; i++) {
      if (used + widths[i] > part) { parts += 1; used = 0; }
      used += widths[i];
    }
    return parts;
  }

  function smsParts(text) {
    var chars = Array.from(text), gsm = true, widths = [], i;
    if (!text) { return { parts: 1, encoding: "GSM-7" }; }
    for (i = 0; i < chars.length; i++) {
      if (BASIC.indexOf(chars[i]) < 0 && EXTENSION.indexOf(chars[i]) < 0) { gsm = false; break; }
    }
    if (gsm) {
      for (i = 0; i < chars.length; i++) { widths.push(EXTENSION.indexOf(chars[i]) >= 0 ? 2 : 1); }
      return { parts: count(widths, 160, 153), encoding: "GSM-7" };
    }
    for (i = 0; i < chars.length; i++) { widths.push(chars[i].length); }  // 2 for a surrogate pair
    return { parts: count(widths, 70, 67), encoding: "UCS-2" };
  }

  var box = document.getElementById("answer");
  var out = document.getElementById("parts");
  if (!box || !out) { return; }
  function show() {
    var r = smsParts(box.value);
    out.textContent = Array.from(box.value).length + " символов, " + r.encoding +
      (box.dataset.sms === "1" ? ", частей SMS: " + r.parts : "");
    out.dataset.parts = String(r.parts);
  }
  box.addEventListener("input", show);
  document.querySelectorAll("[data-answer]").forEach(function (button) {
    button.addEventListener("click", function () {
      box.value = box.value ? box.value + " " + button.dataset.answer : button.dataset.answer;
      show();
      box.focus();
    });
  });
  show();
  window.staffSmsParts = smsParts;  // the browser tests compare it with the server's rule
})();
