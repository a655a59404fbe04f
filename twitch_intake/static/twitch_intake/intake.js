// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  function answerHolds(form, question, code) {
    var inputs = form.querySelectorAll('[name="' + question + '"]');
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if ((input.type === "checkbox" || input.type === "radio") ? input.checked && input.value === code : input.value === code) {
        return true;
      }
    }
    return false;
  }

  // "question:!code": answered, with anything but code.
  function answerHoldsOther(form, question, code) {
    var inputs = form.querySelectorAll('[name="' + question + '"]');
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      var given = (input.type === "checkbox" || input.type === "radio") ? (input.checked ? input.value : "") : input.value.trim();
      if (given !== "" && given !== code) { return true; }
    }
    return false;
  }

  function update(form) {
    var revealed = [];
    form.querySelectorAll("[data-show-when]").forEach(function (block) {
      var parts = block.getAttribute("data-show-when").split(":");
      var shown = parts[1].charAt(0) === "!" ? answerHoldsOther(form, parts[0], parts[1].slice(1)) : answerHolds(form, parts[0], parts[1]);
      block.classList.toggle("d-none", !shown);
      if (shown) { revealed.push(block.getAttribute("data-question")); }
    });
    var field = form.querySelector('input[name="_revealed"]');
    if (field) { field.value = revealed.join(" "); }
  }

  // "None of these" (marked data-exclusive from the questionnaire) cannot be ticked with
  // anything else: ticking one side clears the other.
  function exclusive(event) {
    var box = event.target;
    if (box.type !== "checkbox" || !box.checked) { return; }
    box.form.querySelectorAll('input[type="checkbox"][name="' + box.name + '"]').forEach(function (other) {
      if (other !== box && (box.hasAttribute("data-exclusive") || other.hasAttribute("data-exclusive"))) { other.checked = false; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
    document.querySelectorAll("form.intake-form").forEach(function (form) {
      form.addEventListener("change", function (event) { exclusive(event); update(form); });
    });
  });
})();
