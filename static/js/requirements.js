// PRD page behaviour that needs script (CSP: no inline script).
//
// The print page's "Print" button.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
