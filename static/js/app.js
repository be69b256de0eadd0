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
    if (!document.querySelector("[data-keynav]") || document.querySelector("dialog[open]")) return;
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
    // Seedream's limit and the server's own wording of "too many", both from the page.
    var max = parseInt(list.getAttribute("data-max"), 10);
    var overMessage = list.getAttribute("data-over-message") || "";
    var template = document.getElementById("ref-chip-template");
    var submit = form.querySelector("[data-generate-submit]");
    var unavailable = submit && submit.hasAttribute("data-unavailable");

    function ids() {
      return Array.prototype.map.call(list.querySelectorAll(".ref-chip"), function (chip) {
        return chip.getAttribute("data-ref");
      });
    }
    function note(id, text) {
      var item = document.getElementById(id);
      if (!text) { if (item) item.remove(); return null; }
      if (!item) {
        item = document.createElement("li");
        item.id = id; item.className = "field-error";
        errors.appendChild(item);
      }
      item.textContent = text;
      return item;
    }
    // Files left out of a drop: Generate waits until the person says the first ones will do
    // (or changes the list), so nothing is generated without a reference they asked for.
    function leftOut(text) {
      var item = note("ref-left-out", text);
      if (item) {
        var ok = document.createElement("button");
        ok.type = "button"; ok.className = "btn btn-small"; ok.setAttribute("data-ref-accept", "");
        ok.textContent = "Use these " + ids().length;
        item.appendChild(document.createTextNode(" "));
        item.appendChild(ok);
      }
      refreshCount();
    }
    function refreshCount() {
      var count = ids().length;
      var over = count > max;
      var pending = !!document.getElementById("ref-left-out");
      note("ref-count-note", over ? overMessage.replace("{count}", count).replace("{extra}", count - max) : "");
      if (submit) {
        submit.disabled = over || pending || unavailable;
        if (over || pending) submit.setAttribute("aria-describedby", over ? "ref-count-note" : "ref-left-out");
        else submit.removeAttribute("aria-describedby");
      }
      var accept = document.querySelector("[data-ref-accept]");
      if (accept) accept.textContent = "Use these " + count;
      zone.classList.toggle("dropzone-full", count >= max);
    }
    function addChip(chip) {
      if (ids().indexOf(chip.getAttribute("data-ref")) !== -1) return;
      list.appendChild(chip);
      refreshCount();
    }
    function names(files) {
      return files.map(function (file) { return file.name; }).join(", ");
    }

    // Seedream's per-file limits and the server's sentences for them, from the drop zone: a
    // file refused here is named beside the references at once and never uploaded.
    var minSide = parseInt(zone.getAttribute("data-min-side"), 10);
    var maxAspect = parseFloat(zone.getAttribute("data-max-aspect"));
    var maxBytes = parseInt(zone.getAttribute("data-max-bytes"), 10);
    function say(attribute, values) {
      return (zone.getAttribute(attribute) || "").replace(/\{(\w+)\}/g, function (whole, key) {
        return key in values ? values[key] : whole;
      });
    }
    function size(file) {
      // The size as shown (EXIF-rotated), read from the header: nothing is decoded.
      return new Promise(function (resolve) {
        var url = URL.createObjectURL(file);
        var img = new Image();
        img.onload = function () { URL.revokeObjectURL(url); resolve([img.naturalWidth, img.naturalHeight]); };
        img.onerror = function () { URL.revokeObjectURL(url); resolve(null); };
        img.src = url;
      });
    }
    function tenthsUp(value, unit) {  // as the server writes a ratio: rounded up to a tenth
      var tenths = Math.ceil(value * 10 / unit);
      return tenths % 10 ? (tenths / 10).toFixed(1) : String(tenths / 10);
    }
    function refusal(file) {
      if (maxBytes && file.size > maxBytes) return Promise.resolve(say("data-too-large-message", { name: file.name }));
      return size(file).then(function (shown) {
        if (!shown) return "";  // not an image the browser reads: the server says what it is
        var width = shown[0], height = shown[1];
        var values = { name: file.name, width: width, height: height };
        if (Math.min(width, height) < minSide) return say("data-too-small-message", values);
        var long = Math.max(width, height), short = Math.min(width, height);
        if (long > maxAspect * short) {
          var ratio = tenthsUp(long, short);
          values.shape = width > height ? ratio + ":1" : "1:" + ratio;
          return say("data-bad-aspect-message", values);
        }
        return "";
      });
    }
    function fileNote(text) {
      var item = document.createElement("li");
      item.className = "field-error"; item.textContent = text;
      errors.appendChild(item);
    }
    function clearFileNotes() {
      Array.prototype.forEach.call(errors.querySelectorAll("li:not(#ref-count-note):not(#ref-left-out):not(#ref-full-note)"), function (li) {
        li.remove();
      });
    }

    function upload(fileList) {
      var chosen = Array.prototype.slice.call(fileList || []);
      if (!chosen.length) return;
      input.value = "";
      clearFileNotes();
      zone.classList.add("dropzone-busy");
      zone.setAttribute("aria-busy", "true");
      Promise.all(chosen.map(refusal)).then(function (reasons) {
        var files = chosen.filter(function (file, i) {
          if (reasons[i]) fileNote(reasons[i]);
          return !reasons[i];
        });
        send(files);
      });
    }

    function idle() {
      zone.classList.remove("dropzone-busy");
      zone.removeAttribute("aria-busy");
    }

    function send(files) {
      // Keep the first files that fit and say which were left out: never drop them all.
      var room = Math.max(0, max - ids().length);
      var kept = files.slice(0, room);
      var left = files.slice(kept.length);
      if (left.length) {
        leftOut(kept.length
          ? "Seedream takes at most " + max + " reference images, so only the first " + kept.length +
            " of these " + files.length + " files were added. Left out: " + names(left) + "."
          : "Seedream takes at most " + max + " reference images and " + max +
            " are already here. Remove one to add another. Left out: " + names(left) + ".");
      } else {
        leftOut("");
      }
      if (!kept.length) { idle(); return; }
      var data = new FormData();
      kept.forEach(function (file) { data.append("uploads", file); });
      fetch(zone.getAttribute("data-upload-url"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() }
      }).then(function (response) {
        if (!response.ok && response.status !== 422) {
          throw new Error(response.status === 400 || response.status === 413
            ? "The server refused these files as too many or too large (" + response.status + ")."
            : "The upload failed (" + response.status + ").");
        }
        return response.text();
      }).then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        Array.prototype.forEach.call(holder.querySelectorAll("[data-uploaded] > .ref-chip"), addChip);
        Array.prototype.forEach.call(holder.querySelectorAll("[data-upload-errors] > li"), function (li) {
          errors.appendChild(li);
        });
        refreshCount();
        // The new uploads are in the team library now: show its first page again.
        var search = document.getElementById("library-search");
        if (search && window.htmx) window.htmx.trigger(search, "submit");
      }).catch(function (error) {
        note("ref-upload-failed", (error && error.message ? error.message : "The upload failed.") +
          " Nothing was added; try again, or choose fewer files.");
      }).then(idle);
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
    errors.addEventListener("click", function (event) {
      if (!event.target.closest("[data-ref-accept]")) return;
      leftOut("");
      if (submit && !submit.disabled) submit.focus();
    });
    // Tests and other scripts can hand files to the drop zone as a drop would.
    zone.addEventListener("gallery:files", function (event) { upload(event.detail); });

    // Reorder and remove.
    list.addEventListener("click", function (event) {
      var chip = event.target.closest(".ref-chip");
      if (!chip) return;
      if (event.target.closest("[data-ref-remove]")) {
        chip.remove(); note("ref-full-note", ""); leftOut(""); input.focus(); return;
      }
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

    // The team library (loaded and paged by htmx): a click adds a chip instead of ticking a box.
    document.addEventListener("click", function (event) {
      var item = event.target.closest && event.target.closest("[data-library-ref]");
      if (!item || !form.contains(item)) return;
      event.preventDefault();
      var id = item.getAttribute("data-library-ref");
      if (ids().indexOf(id) !== -1) return;
      if (ids().length >= max) {
        note("ref-full-note", "Seedream takes at most " + max + " reference images. Remove one to add another.");
        return;
      }
      var chip = template.content.firstElementChild.cloneNode(true);
      chip.setAttribute("data-ref", id);
      chip.querySelector("input").value = id;
      chip.querySelector("img").src = item.getAttribute("data-src");
      addChip(chip);
      item.setAttribute("aria-pressed", "true");
    });

    // Estimated cost, as the batch size or the size changes (a model may price 4K higher).
    var cost = form.querySelector("[data-cost]");
    var perImage = cost && parseFloat(cost.getAttribute("data-cost-per-image"));
    var bySize = {};
    ((cost && cost.getAttribute("data-cost-by-size")) || "").split(";").forEach(function (pair) {
      var parts = pair.split("=");
      if (parts.length === 2) bySize[parts[0]] = parseFloat(parts[1]);
    });
    var money = function (amount) { return "$" + (amount >= 0.01 ? amount.toFixed(2) : String(amount)); };
    form.addEventListener("change", function (event) {
      var name = event.target.name;
      if ((name !== "batch_size" && name !== "p_size") || !perImage) return;
      if (name === "p_size" && bySize[event.target.value] !== undefined) {
        perImage = bySize[event.target.value];
        cost.querySelector("[data-cost-each]").textContent = money(perImage);
      }
      var batch = form.querySelector("[name=batch_size]:checked") || form.querySelector("[name=batch_size]");
      var count = parseInt(batch && batch.value, 10) || 1;
      cost.querySelector("[data-cost-total]").textContent = money(perImage * count);
      cost.querySelector("[data-cost-count]").textContent = count;
    });
    refreshCount();
  });
  // -- the share dialog ------------------------------------------------------------------------
  // Share buttons load a form into #dialog-body with htmx; the dialog opens when it arrives.
  function focusFirst(root) {
    var target = root.querySelector(".has-error input, .has-error select, .has-error textarea") ||
      root.querySelector("[role=alert]") ||
      root.querySelector("input:not([type=hidden]):not([readonly]), select, textarea, [data-copy]");
    if (!target) return;
    if (!target.matches("input, select, textarea, button, a")) target.setAttribute("tabindex", "-1");
    target.focus();
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) return;
    var dialog = target.closest("dialog");
    if (dialog && !dialog.open) dialog.showModal();
    if (dialog || target.querySelector("[data-focus-first-error] .has-error")) focusFirst(target);
  });
  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest("[data-dialog-close]");
    if (close && close.closest("dialog")) close.closest("dialog").close();
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  // -- focus the first error after a failed submit -------------------------------------------
  onReady(function () {
    var form = document.querySelector("main form .has-error, main form [role=alert]");
    if (form) focusFirst(form.closest("form"));
  });

  // -- grid density ----------------------------------------------------------------------------
  onReady(function () {
    var control = document.querySelector("[data-density-control]");
    var grid = document.querySelector("[data-density-target]");
    if (!control || !grid) return;
    function apply(value) {
      ["s", "m", "l"].forEach(function (v) { grid.classList.toggle("grid-" + v, v === value); });
      var radio = control.querySelector("input[value=" + value + "]");
      if (radio) radio.checked = true;
    }
    var saved = null;
    try { saved = window.localStorage.getItem("gallery-density"); } catch (e) { saved = null; }
    apply(saved === "s" || saved === "l" ? saved : "m");
    control.addEventListener("change", function (event) {
      apply(event.target.value);
      try { window.localStorage.setItem("gallery-density", event.target.value); } catch (e) { /* private mode */ }
    });
  });

  // -- live pages ------------------------------------------------------------------------------
  // An element with data-live polls its URL with If-None-Match: the server answers 304 while
  // nothing changed (one indexed query), so an idle page costs little. Polling pauses while the
  // tab is hidden and backs off after errors. Fast while something is in flight.
  var LIVE_FAST = 2000, LIVE_SLOW = 5000, LIVE_MAX = 60000;

  function adoptTiles(container, fragment) {
    var inserted = [];
    Array.prototype.forEach.call(fragment.querySelectorAll(".tile"), function (tile) {
      var existing = document.getElementById(tile.id);
      if (existing) {
        if (existing.getAttribute("data-version") === tile.getAttribute("data-version")) return;
        var box = existing.querySelector("input[form=bulk]");
        if (box && box.checked) tile.querySelector("input[form=bulk]").checked = true;
        existing.replaceWith(tile);
        inserted.push(tile);
        return;
      }
      if (!container.hasAttribute("data-live-new")) return;  // an older page takes no new items
      var first = container.querySelector(".tile");
      var created = parseFloat(tile.getAttribute("data-created"));
      if (first && created <= parseFloat(first.getAttribute("data-created"))) return;
      var empty = container.querySelector(".empty");
      if (empty) empty.remove();
      container.insertBefore(tile, first || container.firstChild);
      tile.classList.add("tile-new");
      inserted.push(tile);
    });
    var limit = parseInt(container.getAttribute("data-live-limit"), 10);
    if (limit) {
      Array.prototype.slice.call(container.querySelectorAll(".tile"), limit).forEach(function (tile) { tile.remove(); });
    }
    inserted.forEach(function (tile) {
      if (window.htmx) window.htmx.process(tile);
      document.dispatchEvent(new CustomEvent("gallery:inserted", { detail: tile }));
    });
    if (inserted.length) updateBulk();
    return inserted.length;
  }

  function live(element) {
    var base = element.getAttribute("data-live");
    var etag = element.getAttribute("data-live-etag") || "";
    var since = element.getAttribute("data-live-since") || "";
    var failures = 0, timer = null, waiting = false;

    function interval() {
      if (failures) return Math.min(LIVE_MAX, LIVE_SLOW * Math.pow(2, failures));
      var busy = element.hasAttribute("data-live-fast") || element.querySelector("[data-in-flight]");
      return busy ? LIVE_FAST : LIVE_SLOW;
    }
    function schedule() { timer = window.setTimeout(tick, interval()); }
    function url() {
      if (!since) return base;
      return base + (base.indexOf("?") === -1 ? "?" : "&") + "since=" + encodeURIComponent(since);
    }
    function tick() {
      timer = null;
      if (document.hidden) { waiting = true; return; }
      var headers = { "X-Live-Poll": "1" };
      if (etag) headers["If-None-Match"] = '"' + etag + '"';
      fetch(url(), { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (response.status === 304) return null;
          if (!response.ok) throw new Error(String(response.status));
          etag = (response.headers.get("ETag") || "").replace(/^W\//, "").replace(/"/g, "");
          return response.text();
        })
        .then(function (html) {
          failures = 0;
          if (html === null) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          if (element.id === "detail") {
            var fresh = doc.getElementById("detail");
            if (!fresh) return;
            element.replaceWith(fresh);
            document.dispatchEvent(new CustomEvent("gallery:inserted", { detail: fresh }));
            if (window.htmx) window.htmx.process(fresh);
            if (fresh.hasAttribute("data-live")) live(fresh);
            element = null;
            return;
          }
          var tiles = doc.querySelector("template[data-live-tiles]");
          if (!tiles) return;
          since = tiles.getAttribute("data-since") || since;
          adoptTiles(element, tiles.content);
        })
        .catch(function () { failures += 1; })
        .then(function () { if (element) schedule(); });
    }
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && waiting && element) { waiting = false; tick(); }
    });
    schedule();
  }
  onReady(function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), live);
  });
})();
