// "Copy" buttons next to a read-only field marked data-copy-source.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy-button]").forEach((button) => {
    const scope = button.closest(".card") || document;
    const source = scope.querySelector("[data-copy-source]");
    const status = scope.querySelector("[data-copy-status]");
    button.addEventListener("click", async () => {
      source.select();
      try {
        await navigator.clipboard.writeText(source.value);
        if (status) status.textContent = "Copied.";
      } catch (error) {
        document.execCommand && document.execCommand("copy");
        if (status) status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
      }
    });
  });
})();
