// Draws the Plotly figures of a page. An element with `data-plotly-figure="<id>"`
// names the <script type="application/json" id="<id>"> (Django's json_script) that
// holds the figure built in Python: {"data": [...], "layout": {...}, "config": {...}}.
// Load this file before plotly.js, both with `defer`. Pages with a figure are not
// swapped by htmx: htmx drops <script> elements (allowScriptTags is off), the figure's too.
(function () {
  "use strict";

  // plotly.js adds its CSS with <style> elements unless an element with these ids
  // (class "no-inline-styles") already exists. The CSP (style-src 'self') blocks
  // inline <style>, so its rules are served from app.css instead. The second id is
  // the stylesheet of maplibre (map traces, which we do not draw), added by plotly.js
  // when it loads: hence this runs before plotly.js does.
  [
    "plotly.js-style-global",
    "9f215cf04c5486422605d13261cb87401f4e7763b6296af81e98efbc0130da53",
  ].forEach(function (id) {
    if (!document.getElementById(id)) {
      const marker = document.createElement("meta");
      marker.id = id;
      marker.className = "no-inline-styles";
      document.head.appendChild(marker);
    }
  });

  function draw(root) {
    if (!window.Plotly) {
      return;
    }
    root.querySelectorAll("[data-plotly-figure]").forEach(function (element) {
      const source = document.getElementById(element.dataset.plotlyFigure);
      if (!source || element.dataset.plotlyDrawn) {
        return;
      }
      const figure = JSON.parse(source.textContent);
      const layout = figure.layout || {};
      // Text in the page's colour, so the chart follows a light or dark theme.
      layout.font = Object.assign({ color: getComputedStyle(element).color }, layout.font);
      element.dataset.plotlyDrawn = "true";
      window.Plotly.newPlot(element, figure.data, layout, figure.config || {});
    });
  }

  // Deferred scripts have all run when DOMContentLoaded fires: plotly.js is there.
  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
  });
})();
