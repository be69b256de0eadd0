/* The lightbox: the original image, full screen, with zoom and pan.
 *
 * Opens from any link with data-lightbox="<original url>" (the detail page's preview); without
 * JavaScript the link simply opens the largest thumbnail. Zoom: the wheel (around the pointer),
 * + and - (buttons or keys), double-click or 0 to go back to "fit". Pan: drag, or the arrow
 * keys. Esc or the close button closes it and focus returns to the preview.
 */
(function () {
  "use strict";
  var MIN = 1, MAX = 8, STEP = 1.25, PAN = 60;

  function build() {
    var dialog = document.createElement("dialog");
    dialog.className = "lightbox";
    dialog.setAttribute("aria-label", "Full-size image");
    dialog.innerHTML =
      '<div class="lightbox-bar">' +
      '<span class="lightbox-zoom" aria-live="polite">Fit</span>' +
      '<button type="button" class="btn btn-small" data-zoom="out" aria-label="Zoom out">−</button>' +
      '<button type="button" class="btn btn-small" data-zoom="fit">Fit</button>' +
      '<button type="button" class="btn btn-small" data-zoom="in" aria-label="Zoom in">+</button>' +
      '<a class="btn btn-small" data-lightbox-download download>Download</a>' +
      '<button type="button" class="btn btn-small" data-lightbox-close aria-label="Close">Close</button>' +
      "</div>" +
      '<div class="lightbox-stage" tabindex="0" aria-label="Image: drag or use the arrow keys to pan, + and - to zoom">' +
      '<img class="lightbox-image" alt="" draggable="false"></div>';
    document.body.appendChild(dialog);
    return dialog;
  }

  var dialog = null, stage, img, label;
  var scale = 1, x = 0, y = 0, drag = null;

  function render() {
    img.style.transform = "translate(" + x + "px, " + y + "px) scale(" + scale + ")";
    label.textContent = scale === 1 ? "Fit" : Math.round(scale * 100) + "% of fit";
    stage.classList.toggle("lightbox-zoomed", scale > 1);
  }
  function clamp() {
    var w = stage.clientWidth, h = stage.clientHeight;
    var maxX = Math.max(0, (img.clientWidth * scale - w) / 2);
    var maxY = Math.max(0, (img.clientHeight * scale - h) / 2);
    x = Math.max(-maxX, Math.min(maxX, x));
    y = Math.max(-maxY, Math.min(maxY, y));
  }
  // Zoom to `next`, keeping the point (px, py) of the stage (relative to its centre) still.
  function zoom(next, px, py) {
    next = Math.max(MIN, Math.min(MAX, next));
    px = px || 0; py = py || 0;
    x = px - (px - x) * (next / scale);
    y = py - (py - y) * (next / scale);
    scale = next;
    if (scale === 1) { x = 0; y = 0; }
    clamp(); render();
  }

  function open(link) {
    if (!dialog) {
      dialog = build();
      stage = dialog.querySelector(".lightbox-stage");
      img = dialog.querySelector(".lightbox-image");
      label = dialog.querySelector(".lightbox-zoom");
      dialog.addEventListener("click", function (event) {
        var button = event.target.closest("[data-zoom]");
        if (button) {
          var kind = button.getAttribute("data-zoom");
          zoom(kind === "in" ? scale * STEP : kind === "out" ? scale / STEP : 1);
        }
        if (event.target.closest("[data-lightbox-close]")) dialog.close();
      });
      stage.addEventListener("wheel", function (event) {
        event.preventDefault();
        var box = stage.getBoundingClientRect();
        zoom(scale * (event.deltaY < 0 ? STEP : 1 / STEP),
          event.clientX - box.left - box.width / 2, event.clientY - box.top - box.height / 2);
      }, { passive: false });
      stage.addEventListener("dblclick", function (event) {
        var box = stage.getBoundingClientRect();
        zoom(scale > 1 ? 1 : 2.5, event.clientX - box.left - box.width / 2, event.clientY - box.top - box.height / 2);
      });
      stage.addEventListener("pointerdown", function (event) {
        if (scale === 1) return;
        drag = { id: event.pointerId, x: event.clientX - x, y: event.clientY - y };
        stage.setPointerCapture(event.pointerId);
        stage.classList.add("lightbox-dragging");
      });
      stage.addEventListener("pointermove", function (event) {
        if (!drag || drag.id !== event.pointerId) return;
        x = event.clientX - drag.x; y = event.clientY - drag.y;
        clamp(); render();
      });
      ["pointerup", "pointercancel"].forEach(function (name) {
        stage.addEventListener(name, function () { drag = null; stage.classList.remove("lightbox-dragging"); });
      });
      dialog.addEventListener("keydown", function (event) {
        var key = event.key;
        if (key === "+" || key === "=") zoom(scale * STEP);
        else if (key === "-" || key === "_") zoom(scale / STEP);
        else if (key === "0") zoom(1);
        else if (key === "ArrowLeft") { x += PAN; clamp(); render(); }
        else if (key === "ArrowRight") { x -= PAN; clamp(); render(); }
        else if (key === "ArrowUp") { y += PAN; clamp(); render(); }
        else if (key === "ArrowDown") { y -= PAN; clamp(); render(); }
        else return;
        event.preventDefault();
      });
      dialog.addEventListener("close", function () { if (dialog.opener) dialog.opener.focus(); });
    }
    dialog.opener = link;
    scale = 1; x = 0; y = 0;
    var preview = link.querySelector("img");
    img.alt = preview ? preview.alt : "";
    img.src = link.getAttribute("data-lightbox");
    img.width = parseInt(link.getAttribute("data-lightbox-width"), 10) || 0;
    img.height = parseInt(link.getAttribute("data-lightbox-height"), 10) || 0;
    dialog.querySelector("[data-lightbox-download]").href = link.getAttribute("data-lightbox");
    render();
    dialog.showModal();
    stage.focus();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-lightbox]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    open(link);
  });
})();
