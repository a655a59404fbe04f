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

  // What a page does as it is shown: the error summary (or the note that an answer opened a
  // question) takes focus; a page shown in place of another gives focus to its heading, as a
  // page load would put a screen reader at the top.
  function init(replaced) {
    var summary = document.querySelector("[data-error-summary]");
    var note = document.querySelector("[data-opened-note]");
    var heading = document.querySelector("main h1");
    if (summary) {
      summary.focus();
    } else if (note) {
      note.focus();
    } else if (replaced && heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  // --- One round trip per page (twitch_intake.follow) -------------------------------------
  // A form marked data-follow is posted with fetch; the server answers with the page it would
  // have redirected to, and its path, which goes into the history: a refresh loads that page
  // with a GET, as after a redirect, and Back or Forward fetch the page of their entry. If a
  // post gets no answer, or a server error, the page and what was typed on it stay, with a
  // message.
  var shownPath = window.location.pathname;
  // A post with no answer by then is given up and may be sent again, which does no harm: a
  // page saved twice holds the same answers, a second Send changes nothing, the right date
  // signs in again. (Self-start, which makes an intake each time, is not posted from here.)
  var GIVE_UP_MS = 20000;
  var latest = 0;  // the newest request's number: an answer to an older one is not shown
  var posting = null;  // the post on its way: {form, controller}
  var loading = false;  // Back or Forward's page on its way: the forms shown are not its

  function stylesOf(doc) {
    return Array.prototype.map.call(doc.querySelectorAll('link[rel="stylesheet"]'), function (link) {
      return link.getAttribute("href");
    }).join(" ");
  }

  // Put a page the server sent in place of this one: the body alone when the styles are the
  // same (no flash of an unstyled page), else the whole document.
  function replace(text) {
    var next = new DOMParser().parseFromString(text, "text/html");
    document.title = next.title;
    document.documentElement.lang = next.documentElement.lang;
    if (stylesOf(next) === stylesOf(document)) {
      document.body.replaceWith(document.adoptNode(next.body));
    } else {
      document.documentElement.replaceWith(document.adoptNode(next.documentElement));
    }
    window.scrollTo(0, 0);
    init(true);
  }

  function isPage(response) {
    return (response.headers.get("Content-Type") || "").indexOf("text/html") === 0;
  }

  function shown(response, text) {
    var path = response.headers.get("X-Intake-Location");
    // No path: a page that is no redirect's (a closed session, say), shown where the patient
    // was, so that a refresh asks for that page again, not for the URL the form posted to.
    var url = path ? new URL(path, window.location.href).href
      : (response.redirected ? response.url : window.location.href);
    if (!isPage(response)) {
      window.location.assign(url);  // not a page: let the browser load it
      return;
    }
    replace(text);
    // A new entry, as the redirect's GET makes one (the same page again after a refusal too,
    // where Back shows the page as refused, as the browser's GET of it would); after the page,
    // so that whoever waits for the address to change finds the new page there.
    if (path || response.redirected) {
      window.history.pushState(null, "", url);
    }
    shownPath = window.location.pathname;
  }

  // "Sending…" for a screen reader (aria-busy alone is seldom announced), and after.
  function say(busy) {
    var status = document.querySelector("[data-sending-status]");
    if (status) { status.textContent = busy ? status.getAttribute("data-sending") : ""; }
  }

  function done(form) {
    form.removeAttribute("aria-busy");
    say(false);
    posting = null;
  }

  function notSent(form) {
    done(form);
    var message = document.querySelector("[data-not-sent]");
    if (!message) { return; }
    message.hidden = false;
    message.focus();
  }

  function send(event) {
    var form = event.target;
    if (!form.matches("form[data-follow]") || !window.fetch || !window.AbortController) { return; }
    var body;
    try {
      body = new URLSearchParams(new FormData(form));
    } catch (error) {
      return;  // a browser that cannot: it posts the form itself
    }
    event.preventDefault();
    if (posting || loading) { return; }  // a second tap on Continue sends nothing more
    var number = ++latest;
    var controller = new AbortController();
    var timer = window.setTimeout(function () { controller.abort(); }, GIVE_UP_MS);
    posting = { form: form, controller: controller };
    form.setAttribute("aria-busy", "true");
    say(true);
    window.fetch(form.action, {
      method: "POST",
      body: body,
      headers: { "X-Intake-Follow": "1" },
      credentials: "same-origin",
      signal: controller.signal,
    }).then(function (response) {
      // A server error (the app's calm 503 during an outage, a proxy's 502): the post's work
      // was not done, or is not known to be. The page and what was typed stay, to send again.
      if (response.status >= 500) { throw new Error("not sent"); }
      return response.text().then(function (text) {
        if (number !== latest) { return; }
        done(form);
        shown(response, text);
      });
    }).catch(function () {
      if (number === latest) { notSent(form); }
    }).then(function () {
      window.clearTimeout(timer);
    });
  }

  // Back or Forward to an entry made here: its page, fetched with a GET (a page that sends
  // the patient on, to where it does). A post still on its way is let go: its answer would be
  // for a page no longer shown.
  window.addEventListener("popstate", function () {
    if (window.location.pathname === shownPath) { return; }
    shownPath = window.location.pathname;
    if (posting) {
      posting.controller.abort();
      done(posting.form);
    }
    var number = ++latest;
    loading = true;
    window.fetch(window.location.href, { credentials: "same-origin" }).then(function (response) {
      return response.text().then(function (text) {
        if (number !== latest) { return; }
        loading = false;
        if (!isPage(response)) { window.location.reload(); return; }
        replace(text);
        if (response.redirected) {
          window.history.replaceState(null, "", response.url);
          shownPath = window.location.pathname;
        }
      });
    }).catch(function () {
      if (number === latest) { window.location.reload(); }
    });
  });

  // Listened for on the document, so that a page shown in place of another works the same.
  document.addEventListener("submit", send);
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-error-summary]")) { focusTarget(event); }
  });
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form.intake-form");
    if (form) { exclusive(event); update(form); }
  });
  document.addEventListener("DOMContentLoaded", function () { init(false); });
})();
