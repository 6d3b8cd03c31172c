// Survey pages: the definition editor's live check, and the preview's phone-width window.
// Everything works without this script (the editor has a Check button); it only saves a round trip.
(function () {
  "use strict";

  function renderCheck(box, result) {
    box.textContent = "";
    var heading = document.createElement("p");
    heading.className = result.valid ? "check-ok" : "check-faults";
    heading.textContent = result.valid
      ? "Valid: " + result.summary
      : result.faults.length + " problem(s) to fix before saving:";
    box.appendChild(heading);
    if (!result.valid) {
      var list = document.createElement("ul");
      result.faults.forEach(function (fault) {
        var item = document.createElement("li");
        var where = document.createElement("strong");
        where.textContent = fault.where;
        item.appendChild(where);
        item.appendChild(document.createTextNode(" " + fault.message));
        list.appendChild(item);
      });
      box.appendChild(list);
    }
  }

  function liveCheck(form) {
    var area = form.querySelector("textarea[name=definition]");
    var box = document.getElementById("check-result");
    var token = form.querySelector("input[name=csrf_token]");
    if (!area || !box || !token) {
      return;
    }
    var timer = null;
    var sequence = 0;
    function check() {
      var mine = ++sequence;
      var body = new URLSearchParams();
      body.set("definition", area.value);
      fetch("/surveys/check", {
        method: "POST",
        headers: { "X-CSRF-Token": token.value, "Content-Type": "application/x-www-form-urlencoded" },
        body: body,
        credentials: "same-origin",
      })
        .then(function (answer) { return answer.json(); })
        .then(function (result) {
          if (mine === sequence) {
            renderCheck(box, result);
          }
        })
        .catch(function () { /* the Check button still works */ });
    }
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 400);
    });
    area.addEventListener("keydown", function (event) {
      // Tab indents (YAML is indentation); Escape then Tab leaves the field as usual.
      if (event.key === "Tab" && !event.shiftKey && !area.dataset.escaped) {
        event.preventDefault();
        var start = area.selectionStart;
        area.setRangeText("  ", start, area.selectionEnd, "end");
        area.dispatchEvent(new Event("input"));
      }
      area.dataset.escaped = event.key === "Escape" ? "1" : "";
    });
    check();
  }

  function phoneWindows() {
    document.querySelectorAll("a[data-phone-window]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var opened = window.open(link.href, "cpxm-phone-preview", "width=390,height=844");
        if (opened) {
          event.preventDefault();
        }
      });
    });
  }

  function start() {
    var form = document.getElementById("survey-editor");
    if (form) {
      liveCheck(form);
    }
    phoneWindows();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
