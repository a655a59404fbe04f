/* The Copy button of the chart text page (admin/twitch_intake/encounter/chart_text.html).
   A static file: the app's CSP allows no inline script. Without JavaScript the button stays
   hidden and the text is there to select by hand. With it: the Clipboard API where the browser
   allows it; otherwise (an older browser, a refused permission) the text is selected and the
   page says how to copy it. What happened is said in a status line, read out by screen readers. */
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    element.focus();
  }

  function fallback(element, status) {
    selectText(element);
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    status.textContent = copied ? status.dataset.copied : status.dataset.selected;
  }

  function wire(button) {
    var target = document.getElementById(button.dataset.tiCopy);
    var status = button.parentNode.querySelector(".ti-copy-status");
    if (!target || !status) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = "";
      var text = target.textContent;
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(
          function () {
            status.textContent = status.dataset.copied;
          },
          function () {
            fallback(target, status);
          }
        );
      } else {
        fallback(target, status);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-ti-copy]").forEach(wire);
  });
})();
