// Display logic on the page being answered: a question whose condition names an earlier
// question of the same page is hidden until the respondent's answer meets it. The server
// applies the same rules to what is submitted; without this script every such question
// simply stays visible.
(function () {
  "use strict";
  var form = document.querySelector("form.r-form");
  if (!form) { return; }
  var dependents = form.querySelectorAll("fieldset[data-show-if]");
  var SCALES = ["nps", "csat", "ces", "rating"];

  function answers(rule) {
    var source = document.getElementById("question-" + rule.question);
    if (!source || source.hidden) { return []; }
    var name = "q_" + rule.question, parts = name + "__", found = [];
    var fields = source.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i], value = field.value.trim();
      var checkable = field.type === "radio" || field.type === "checkbox";
      if ((checkable && !field.checked) || value === "") { continue; }
      if (field.name === name) {
        found.push(SCALES.indexOf(rule.type) >= 0 ? Number(value) : value);
      } else if (field.name.indexOf(parts) === 0) {
        // A matrix answer is compared as "row:value"; a Kano pair by its two halves.
        found.push(rule.type === "matrix" ? field.name.slice(parts.length) + ":" + value : value);
      }
    }
    return found;
  }

  function same(value, wanted) {
    if (typeof value === "number") { return value === Number(wanted); }
    return value === String(wanted);
  }

  function shown(rule) {
    var values = answers(rule);
    if (!values.length) { return false; }
    var some = function (test) { return values.some(test); };
    if (rule.equals !== null && !some(function (v) { return same(v, rule.equals); })) {
      return false;
    }
    if (rule.in !== null && !some(function (v) {
      return rule.in.some(function (w) { return same(v, w); });
    })) { return false; }
    var numbers = values.filter(function (v) { return typeof v === "number"; });
    if (rule.min !== null && !numbers.some(function (n) { return n >= rule.min; })) {
      return false;
    }
    return rule.max === null || numbers.some(function (n) { return n <= rule.max; });
  }

  function update() {
    // In page order, so a question hidden above hides the questions that depend on it.
    for (var i = 0; i < dependents.length; i++) {
      var fieldset = dependents[i];
      fieldset.hidden = !shown(JSON.parse(fieldset.getAttribute("data-show-if")));
    }
  }

  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
}());
