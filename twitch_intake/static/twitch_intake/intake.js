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

  // The question's legend (or label) for an input, as govuk-frontend's error summary finds
  // it: the legend when it and the input fit on the screen together, else the input's label.
  function legendOrLabel(input) {
    var fieldset = input.closest("fieldset");
    var legend = fieldset && fieldset.querySelector("legend");
    if (legend) {
      var legendTop = legend.getBoundingClientRect().top;
      var inputRect = input.getBoundingClientRect();
      if (inputRect.height && window.innerHeight && inputRect.top + inputRect.height - legendTop < window.innerHeight / 2) {
        return legend;
      }
    }
    return document.querySelector('label[for="' + input.id + '"]') || legend;
  }

  // An error summary's link: move focus to the question's first input, with its question in
  // view above it. Without this file the link's #anchor still jumps to the input.
  function focusTarget(event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) { return; }
    var input = document.getElementById(link.getAttribute("href").slice(1));
    if (!input || !input.matches("input, textarea, select")) { return; }
    event.preventDefault();
    var heading = legendOrLabel(input);
    if (heading) { heading.scrollIntoView(); } else { input.scrollIntoView(); }
    input.focus({ preventScroll: true });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
      summary.addEventListener("click", focusTarget);
    } else {
      var note = document.querySelector("[data-opened-note]");
      if (note) { note.focus(); }
    }
    document.querySelectorAll("form.intake-form").forEach(function (form) {
      form.addEventListener("change", function (event) { exclusive(event); update(form); });
    });
  });
})();
