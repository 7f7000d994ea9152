// caresearch: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  function addCopyButtons() {
    if (!navigator.clipboard) return;
    document.querySelectorAll("a[data-copy-link]").forEach(function (link) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-button";
      button.textContent = "リンクをコピー";
      button.addEventListener("click", function () {
        var url = new URL(link.getAttribute("href"), window.location.href).href;
        navigator.clipboard.writeText(url).then(
          function () { button.textContent = "コピーしました"; },
          function () { button.textContent = "コピーできませんでした"; }
        );
      });
      link.insertAdjacentElement("afterend", button);
    });
  }
  function addPrintButton() {
    var box = document.querySelector(".handout-actions");
    if (!box) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button-secondary";
    button.textContent = "印刷する";
    button.addEventListener("click", function () { window.print(); });
    box.appendChild(button);
  }
  document.addEventListener("DOMContentLoaded", function () {
    addCopyButtons();
    addPrintButton();
  });
})();
