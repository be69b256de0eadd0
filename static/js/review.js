// Review queue shortcuts: A approve, R reject, J next, K previous, N focus the note.
// The page works without this file: every action is a plain link or button.
(function () {
  "use strict";
  const typing = (el) => el && (el.tagName === "TEXTAREA" || el.tagName === "INPUT" || el.tagName === "SELECT" || el.isContentEditable);
  const click = (id) => { const el = document.getElementById(id); if (el) { el.click(); return true; } return false; };
  let busy = false;
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(document.activeElement)) {
      if (event.key === "Escape") document.activeElement.blur();
      return;
    }
    if (busy) return;
    const key = event.key.toLowerCase();
    let handled = false;
    if (key === "a") handled = busy = click("review-approve");
    else if (key === "r") handled = busy = click("review-reject");
    else if (key === "j") handled = click("review-next");
    else if (key === "k") handled = click("review-prev");
    else if (key === "n") { const note = document.getElementById("review-note"); if (note) { note.focus(); handled = true; } }
    if (handled) event.preventDefault();
  });
})();
