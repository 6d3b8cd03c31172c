// Draws every Vega-Lite spec on the page with the vega-embed bundle.
// `ast: true` makes vega interpret expressions instead of compiling them with `new Function`,
// so the page's Content-Security-Policy needs no 'unsafe-eval'.
(function () {
  "use strict";

  function renderCharts() {
    if (typeof window.vegaEmbed !== "function") {
      return; // the numbers are in the tables; charts are an enhancement
    }
    document.querySelectorAll("[data-vega-spec]").forEach(function (target) {
      var source = document.getElementById(target.getAttribute("data-vega-spec"));
      if (!source) {
        return;
      }
      var spec = JSON.parse(source.textContent);
      window
        .vegaEmbed(target, spec, { ast: true, actions: false, renderer: "svg" })
        .then(function () {
          target.classList.add("is-rendered");
        })
        .catch(function (error) {
          target.classList.add("has-error");
          target.textContent = "This chart could not be drawn (" + error.message + "); the table shows its numbers.";
        });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderCharts);
  } else {
    renderCharts();
  }
})();
