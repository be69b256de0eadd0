// Blurhash placeholders: each image with data-blurhash gets a small canvas behind it, painted
// from the hash, so a tile shows the picture's colours and shapes before its thumbnail
// arrives (the image is transparent until it loads, so the canvas shows through).
// Without this module the tile's plain background shows instead.
import { decodeBlurHash } from "../vendor/fast-blurhash/index.js";

const SIZE = 32; // decoded pixels on the long side; the browser scales the canvas up smoothly

function paint(img) {
  if (img.dataset.placeholderDone) return;
  img.dataset.placeholderDone = "1";
  const holder = img.parentElement;
  if (!holder || img.complete && img.naturalWidth > 0) return; // already there: nothing to cover
  const w = parseInt(img.getAttribute("width"), 10) || 1;
  const h = parseInt(img.getAttribute("height"), 10) || 1;
  const width = w >= h ? SIZE : Math.max(1, Math.round((SIZE * w) / h));
  const height = h > w ? SIZE : Math.max(1, Math.round((SIZE * h) / w));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.className = "placeholder";
  canvas.setAttribute("aria-hidden", "true");
  const context = canvas.getContext("2d");
  try {
    const pixels = decodeBlurHash(img.dataset.blurhash, width, height);
    context.putImageData(new ImageData(pixels, width, height), 0, 0);
  } catch (error) {
    context.fillStyle = img.dataset.colour || "#1c1d21"; // a malformed hash: its average colour
    context.fillRect(0, 0, width, height);
  }
  holder.insertBefore(canvas, img);
  const done = () => canvas.classList.add("placeholder-done");
  img.addEventListener("load", done, { once: true });
  img.addEventListener("error", done, { once: true });
}

function paintAll(root) {
  root.querySelectorAll("img[data-blurhash]").forEach(paint);
}

paintAll(document);
document.addEventListener("gallery:inserted", (event) => paintAll(event.detail));
document.addEventListener("htmx:afterSwap", (event) => paintAll(event.detail.target || document));
