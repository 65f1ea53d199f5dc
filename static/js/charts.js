// Draws the Plotly figures of a page, built in Python: {"data", "layout", "config"}.
// An element holds its figure in one of two ways:
// - `data-plotly-json="<the figure as JSON>"`: an attribute, so it survives an htmx swap
//   (htmx drops <script> elements from swapped content, allowScriptTags being off);
//   figures in content that htmx swaps in are drawn when it settles;
// - `data-plotly-figure="<id>"`: names a <script type="application/json" id="<id>">
//   (Django's json_script), for pages that are never swapped.
// Load this file before plotly.js, both with `defer`.
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
    root.querySelectorAll("[data-plotly-figure], [data-plotly-json]").forEach(function (element) {
      if (element.dataset.plotlyDrawn) {
        return;
      }
      let text = element.dataset.plotlyJson;
      if (text === undefined) {
        const source = document.getElementById(element.dataset.plotlyFigure);
        if (!source) {
          return;
        }
        text = source.textContent;
      }
      const figure = JSON.parse(text);
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
  // A refresh replaces the board: what the reader had opened (a "How it is computed")
  // stays open, focus stays on the same control, and the page does not move.
  let kept = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    if (!target || target.id !== "board") {
      return;
    }
    const focused = document.activeElement;
    kept = {
      scroll: window.scrollY,
      open: Array.from(target.querySelectorAll("details[open]")).map(function (d) {
        return d.closest("[id]") ? d.closest("[id]").id : "";
      }),
      focus: focused && target.contains(focused) && focused.closest("[id]")
        ? focused.closest("[id]").id : "",
    };
  });
  // Content htmx swapped in (a refresh, a new date range): its figures, drawn anew.
  document.addEventListener("htmx:afterSettle", function (event) {
    draw(event.target);
    if (kept && event.target.id === "board") {
      kept.open.forEach(function (id) {
        const holder = id && document.getElementById(id);
        const details = holder && holder.querySelector("details");
        if (details) {
          details.open = true;
        }
      });
      const holder = kept.focus && document.getElementById(kept.focus);
      const summary = holder && holder.querySelector("summary");
      if (summary) {
        summary.focus({ preventScroll: true });
      }
      window.scrollTo(0, kept.scroll);
      kept = null;
    }
  });
})();
