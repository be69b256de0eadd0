/* Seedream Gallery: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  // -- forms that apply themselves (filters, role pickers) -----------------------------------
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-autosubmit]");
    if (form && event.target.type !== "search" && event.target.type !== "text") form.requestSubmit();
  });

  // -- confirmations ---------------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
  }, true);

  // -- copy buttons ----------------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = "value" in source && source.tagName !== "CODE" ? source.value : source.textContent;
    var label = button.textContent;
    var status = button.hasAttribute("data-copy-status")
      ? document.querySelector(button.getAttribute("data-copy-status")) : null;
    function done(ok) {
      if (!ok && source.select) source.select();
      if (status) status.textContent = ok ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy.";
      button.textContent = ok ? "Copied" : "Select and copy";
      button.setAttribute("data-copied", ok ? "true" : "false");
      setTimeout(function () { button.textContent = label; }, 1600);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
    } else {
      var area = document.createElement("textarea");
      area.value = text; document.body.appendChild(area); area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      area.remove(); done(ok);
    }
  });

  // -- multi-select bar ------------------------------------------------------------------------
  function selected() { return document.querySelectorAll("input[form=bulk][name=ids]:checked"); }
  function updateBulk() {
    var bar = document.querySelector("[data-bulk]");
    if (!bar) return;
    var count = selected().length;
    bar.querySelector("[data-bulk-count]").textContent = count;
    bar.classList.toggle("bulkbar-on", count > 0);
    document.querySelectorAll(".tile").forEach(function (tile) {
      var box = tile.querySelector("input[form=bulk]");
      tile.classList.toggle("tile-selected", !!(box && box.checked));
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[form=bulk]")) updateBulk();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-bulk-clear]")) {
      selected().forEach(function (box) { box.checked = false; });
      updateBulk();
    }
  });
  document.addEventListener("htmx:afterSwap", updateBulk);

  // -- keyboard navigation on the detail page ---------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (!document.querySelector("[data-keynav]")) return;
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var link = document.querySelector('a[data-key="' + event.key + '"]');
    if (link) { event.preventDefault(); window.location.href = link.href; }
  });

  // -- the generate form -----------------------------------------------------------------------
  onReady(function () {
    var form = document.querySelector("[data-generate]");
    if (!form) return;
    var list = document.getElementById("ref-list");
    var errors = document.getElementById("ref-errors");
    var zone = form.querySelector("[data-dropzone]");
    var input = document.getElementById("id_uploads");
    var max = parseInt(list.getAttribute("data-max"), 10) || 14;
    var template = document.getElementById("ref-chip-template");

    function ids() {
      return Array.prototype.map.call(list.querySelectorAll(".ref-chip"), function (chip) {
        return chip.getAttribute("data-ref");
      });
    }
    function refreshCount() {
      var note = document.getElementById("ref-count-note");
      var count = ids().length;
      if (count > max) {
        if (!note) {
          note = document.createElement("li");
          note.id = "ref-count-note"; note.className = "field-error";
          errors.appendChild(note);
        }
        note.textContent = "Seedream takes at most " + max + " reference images; you have " +
          count + ". Remove " + (count - max) + ".";
      } else if (note) {
        note.remove();
      }
    }
    function addChip(chip) {
      if (ids().indexOf(chip.getAttribute("data-ref")) !== -1) return;
      list.appendChild(chip);
      refreshCount();
    }

    function upload(files) {
      if (!files.length) return;
      var data = new FormData();
      Array.prototype.forEach.call(files, function (file) { data.append("uploads", file); });
      zone.classList.add("dropzone-busy");
      fetch(zone.getAttribute("data-upload-url"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() }
      }).then(function (response) {
        return response.text();
      }).then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        Array.prototype.forEach.call(holder.querySelectorAll("[data-uploaded] > .ref-chip"), addChip);
        Array.prototype.forEach.call(errors.querySelectorAll("li:not(#ref-count-note)"), function (li) {
          li.remove();
        });
        Array.prototype.forEach.call(holder.querySelectorAll("[data-upload-errors] > li"), function (li) {
          errors.appendChild(li);
        });
        refreshCount();
        input.value = "";  // uploaded already: the form sends their ids, not the files again
      }).catch(function () {
        // Offline or the server failed: leave the files in the input; submitting sends them.
      }).then(function () { zone.classList.remove("dropzone-busy"); });
    }

    input.addEventListener("change", function () { upload(input.files); });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        if (!event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types, "Files") === -1) return;
        event.preventDefault(); zone.classList.add("dropzone-over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dropzone-over"); });
    });
    zone.addEventListener("drop", function (event) {
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      event.preventDefault();
      upload(event.dataTransfer.files);
    });

    // Reorder and remove.
    list.addEventListener("click", function (event) {
      var chip = event.target.closest(".ref-chip");
      if (!chip) return;
      if (event.target.closest("[data-ref-remove]")) { chip.remove(); refreshCount(); return; }
      var move = event.target.closest("[data-ref-move]");
      if (!move) return;
      if (move.getAttribute("data-ref-move") === "-1" && chip.previousElementSibling) {
        list.insertBefore(chip, chip.previousElementSibling);
      } else if (move.getAttribute("data-ref-move") === "1" && chip.nextElementSibling) {
        list.insertBefore(chip.nextElementSibling, chip);
      }
      move.focus();
    });
    var dragged = null;
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest(".ref-chip");
      if (dragged) { dragged.classList.add("dragging"); event.dataTransfer.effectAllowed = "move"; }
    });
    list.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      dragged = null;
    });
    list.addEventListener("dragover", function (event) {
      if (!dragged) return;
      event.preventDefault();
      var over = event.target.closest(".ref-chip");
      if (!over || over === dragged) return;
      var box = over.getBoundingClientRect();
      var after = (event.clientX - box.left) > box.width / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });

    // The team library: a click adds a chip instead of ticking a box.
    document.querySelectorAll("[data-library-ref]").forEach(function (item) {
      item.addEventListener("click", function (event) {
        event.preventDefault();
        var chip = template.content.firstElementChild.cloneNode(true);
        var id = item.getAttribute("data-library-ref");
        chip.setAttribute("data-ref", id);
        chip.querySelector("input").value = id;
        var img = chip.querySelector("img");
        img.src = item.getAttribute("data-src");
        img.width = item.getAttribute("data-width"); img.height = item.getAttribute("data-height");
        addChip(chip);
      });
    });

    // Estimated cost, as the batch size changes.
    var cost = form.querySelector("[data-cost]");
    var perImage = cost && parseFloat(cost.getAttribute("data-cost-per-image"));
    form.addEventListener("change", function (event) {
      if (event.target.name !== "batch_size" || !perImage) return;
      var count = parseInt(event.target.value, 10) || 1;
      var total = perImage * count;
      cost.querySelector("[data-cost-total]").textContent = "$" + (total >= 0.01 ? total.toFixed(2) : String(total));
      cost.querySelector("[data-cost-count]").textContent = count;
    });
    refreshCount();
  });
})();
