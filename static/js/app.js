// Behaviour that needs script, kept out of the HTML (CSP: no inline script).
document.addEventListener("click", function (event) {
  const copy = event.target.closest("[data-copy-target]");
  if (copy) {
    const source = document.getElementById(copy.dataset.copyTarget);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        copy.textContent = "Copied";
      });
    }
  }
});

document.addEventListener("submit", function (event) {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// "Cancel" in an inline editor: empty its slot instead of leaving the page.
document.addEventListener("click", function (event) {
  const cancel = event.target.closest("[data-clear-target]");
  if (cancel) {
    const slot = document.getElementById(cancel.dataset.clearTarget);
    if (slot) {
      event.preventDefault();
      slot.replaceChildren();
    }
  }
});
