/* Collections: reorder by dragging tiles, and on the gallery, add an image by dragging its tile
   onto a collection. The Up/Down buttons under each tile and the selection bar's "Add to
   collection" do the same without a mouse (plain forms; they work without this file). */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function startReorder() {
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

  /* The gallery: a finished tile dragged onto the tray's collection is added to it, through
     the same endpoint as the selection bar (its answer, success or refusal, is read out in the
     status line). The tray is fetched when the first drag starts (or a pointer goes down on
     an image), so a page that is only browsed costs nothing more. */
  function startTray() {
    var tray = document.querySelector("[data-collection-tray]");
    var grid = document.getElementById("grid");
    if (!tray || !grid) return;
    var status = document.querySelector("[data-collection-drop-status]");
    var item = null;
    var loading = null;
    var hideTimer = null;

    function say(text) {
      if (status) status.textContent = text;
    }

    function load() {
      if (!loading) {
        // Never the list of an earlier fetch: it may name a collection deleted since.
        tray.removeAttribute("data-loaded");
        tray.textContent = "Loading collections…";
        loading = fetch(tray.getAttribute("data-collection-tray"), {
          credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
        }).then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.text();
        }).then(function (html) {
          tray.innerHTML = html;
          tray.setAttribute("data-loaded", "");
        }).catch(function () {
          loading = null;
          tray.textContent = "Collections could not be loaded.";
        });
      }
      return loading;
    }

    function finishedTile(node) {
      var tile = node && node.closest ? node.closest("article.tile") : null;
      return tile && tile.querySelector(".tile-link img") ? tile : null;
    }

    function unmark() {
      Array.prototype.forEach.call(tray.querySelectorAll(".tray-over"), function (node) {
        node.classList.remove("tray-over");
      });
    }

    function add(publicId, target) {
      var data = new FormData();
      data.append("ids", publicId);
      data.append("collection", target.getAttribute("data-collection-drop"));
      data.append("add", "1");
      say("Adding…");
      fetch(tray.getAttribute("data-collection-add"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" }
      }).then(function (response) {
        loading = null; // the counts (or the collections) changed: fetched again at the next drag
        if (response.status === 404) {
          say("That collection is gone, or no longer yours to add to. Drag again to see the current ones.");
          return;
        }
        return response.text().then(function (html) {
          // Only the dialog's own answer counts (an error page has other status lines): added,
          // its status line; refused, the form shown again with its alert.
          var panel = new DOMParser().parseFromString(html, "text/html").querySelector(".share-panel");
          var said = panel && (panel.querySelector("[role=status]") || panel.querySelector("[role=alert]"));
          if (!said) throw new Error(String(response.status));
          say(said.textContent.trim());
        });
      }).catch(function () {
        say("The image could not be added. Select it and choose “Add to collection”.");
      });
    }

    grid.addEventListener("pointerdown", function (event) {
      if (finishedTile(event.target)) load();
    });
    grid.addEventListener("dragstart", function (event) {
      var tile = finishedTile(event.target);
      if (!tile) return;
      item = tile.id.replace(/^tile-/, "");
      event.dataTransfer.effectAllowed = "copyLink";
      event.dataTransfer.setData("application/x-seedream-item", item);
      clearTimeout(hideTimer);
      tray.hidden = false;
      load();
    });
    grid.addEventListener("dragend", function () {
      item = null;
      unmark();
      hideTimer = setTimeout(function () { tray.hidden = true; }, 400);
    });
    tray.addEventListener("dragover", function (event) {
      var target = event.target.closest && event.target.closest("[data-collection-drop]");
      if (!item || !target) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      if (!target.classList.contains("tray-over")) {
        unmark();
        target.classList.add("tray-over");
      }
    });
    tray.addEventListener("dragleave", function (event) {
      if (event.target.classList) event.target.classList.remove("tray-over");
    });
    tray.addEventListener("drop", function (event) {
      var target = event.target.closest && event.target.closest("[data-collection-drop]");
      if (!item || !target) return;
      event.preventDefault();
      add(item, target);
    });
  }

  function start() {
    startReorder();
    startTray();
  }

  if (document.readyState !== "loading") start();
  else document.addEventListener("DOMContentLoaded", start);
})();
