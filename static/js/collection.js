/* Collections: reorder by dragging tiles. The Up/Down buttons under each tile do the same
   without a mouse (plain forms; they work without this file). */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function start() {
    var grid = document.querySelector("[data-reorder]");
    if (!grid) return;
    var url = grid.getAttribute("data-reorder");
    var status = document.getElementById("reorder-help");
    var dragged = null;

    function save(item) {
      var next = item.nextElementSibling;
      while (next && !next.hasAttribute("data-collection-item")) next = next.nextElementSibling;
      var data = new FormData();
      data.append("image", item.getAttribute("data-collection-item"));
      data.append("before", next ? next.getAttribute("data-collection-item") : "");
      return fetch(url, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" }
      }).then(function (response) {
        if (response.status !== 204) throw new Error(String(response.status));
        if (status) status.textContent = "Order saved.";
        grid.setAttribute("data-saved", String(Date.now()));
      }).catch(function () {
        if (status) status.textContent = "The new order could not be saved; reloading.";
        window.location.reload();
      });
    }

    grid.addEventListener("dragstart", function (event) {
      dragged = event.target.closest && event.target.closest("[data-collection-item]");
      if (!dragged) return;
      dragged.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.getAttribute("data-collection-item"));
    });
    grid.addEventListener("dragover", function (event) {
      if (!dragged) return;
      event.preventDefault();
      var over = event.target.closest && event.target.closest("[data-collection-item]");
      if (!over || over === dragged) return;
      var box = over.getBoundingClientRect();
      var after = (event.clientX - box.left) > box.width / 2;
      grid.insertBefore(dragged, after ? over.nextSibling : over);
    });
    grid.addEventListener("drop", function (event) {
      if (dragged) event.preventDefault();
    });
    grid.addEventListener("dragend", function () {
      if (!dragged) return;
      var item = dragged;
      dragged.classList.remove("dragging");
      dragged = null;
      save(item);
    });
  }

  if (document.readyState !== "loading") start();
  else document.addEventListener("DOMContentLoaded", start);
})();
