// The backlog's own rank by drag and drop (CSP: no inline script). Dropping a row posts
// where it went (before or after the row it was dropped on) with htmx, which swaps in the
// re-ordered list. The ↑ ↓ buttons of each row do the same without a mouse.
(function () {
  var dragged = null;

  function rowOf(event) {
    return event.target.closest ? event.target.closest("table.backlog tr[data-ref]") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var row = rowOf(event);
    if (!row || !row.closest("table").dataset.rankUrl) return;
    dragged = row;
    row.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", row.dataset.ref);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll("tr.drop-before, tr.drop-after").forEach(function (row) {
      row.classList.remove("drop-before", "drop-after");
    });
  });

  function lowerHalf(event, row) {
    var box = row.getBoundingClientRect();
    return event.clientY > box.top + box.height / 2;
  }

  document.addEventListener("dragover", function (event) {
    var row = rowOf(event);
    if (!dragged || !row || row === dragged) return;
    event.preventDefault();
    var after = lowerHalf(event, row);
    row.classList.toggle("drop-after", after);
    row.classList.toggle("drop-before", !after);
  });

  document.addEventListener("dragleave", function (event) {
    var row = rowOf(event);
    if (row) row.classList.remove("drop-before", "drop-after");
  });

  document.addEventListener("drop", function (event) {
    var row = rowOf(event);
    if (!dragged || !row || row === dragged) return;
    event.preventDefault();
    var table = row.closest("table");
    var values = { ref: dragged.dataset.ref, next: table.dataset.next };
    values[lowerHalf(event, row) ? "after" : "before"] = row.dataset.ref;
    if (table.dataset.useCase) values.use_case = table.dataset.useCase;
    window.htmx.ajax("POST", table.dataset.rankUrl, {
      target: "#backlog", swap: "outerHTML", values: values,
    });
  });
})();
