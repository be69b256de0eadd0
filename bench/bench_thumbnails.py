"""Thumbnail speed and memory: gallery.media.imaging against a naive Pillow pipeline, on one core.

    .venv/bin/python bench/bench_thumbnails.py [--runs 15]

Prints figures and the command that produced them; it never passes or fails. The source is a
4096x4096 q90 photo-like JPEG (~1.6 MB) made in memory, like a Seedream 4K result. Timings
alternate the two pipelines run by run so both see the same machine state. Peak memory is
measured in a fresh child process per pipeline as the growth of its peak RSS across the call,
because tracemalloc does not see libjpeg's or libwebp's allocations. The peak is read from
VmHWM in /proc/self/status: Linux carries getrusage()'s ru_maxrss over fork and exec, so a
child would start at this (much bigger) parent's peak and show +0 MB for anything.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image, ImageChops, features  # noqa: E402

from gallery.media import imaging  # noqa: E402
from gallery.media.renditions import EAGER_WIDTHS, LATER_WIDTHS  # noqa: E402

SIDE = 4096
WIDTH = 400


def photo_jpeg(side: int = SIDE) -> bytes:
    """Gradients plus noise at three scales and a little grain: compresses like a photo."""
    ramp = Image.linear_gradient("L").resize((side, side))
    image = Image.merge(
        "RGB",
        (
            ramp,
            ramp.transpose(Image.Transpose.ROTATE_90),
            Image.radial_gradient("L").resize((side, side)),
        ),
    )
    for cells, sigma, weight in ((8, 64, 1.0), (64, 48, 0.7), (256, 32, 0.5)):
        bands = [
            Image.effect_noise((cells, cells), sigma).resize((side, side), Image.Resampling.BICUBIC)
            for _ in range(3)
        ]
        image = Image.blend(image, ImageChops.overlay(image, Image.merge("RGB", bands)), weight)
    grain = Image.effect_noise((side, side), 2)
    image = ImageChops.overlay(image, Image.merge("RGB", (grain, grain, grain)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# The pipelines under test


def ours(data: bytes) -> bytes:
    return imaging.thumbnail_webp(data, WIDTH).data


def naive(data: bytes) -> bytes:
    """What a first version would do: decode everything, LANCZOS down, WebP q80."""
    image = Image.open(io.BytesIO(data))
    image = image.resize((WIDTH, WIDTH), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=80, method=4)
    return buffer.getvalue()


def pipeline(data: bytes) -> str:
    """What a finished generation cost before issue 15: check, three thumbnails, a
    placeholder from the 400 px WebP (two reads, two big decodes, a third small one)."""
    imaging.result_inspect(data)
    thumbnails = imaging.thumbnails_make(data)
    return imaging.placeholder_make(thumbnails[0].data)


def ingest(data: bytes) -> str:
    """What a finished generation costs at ingest now (issue 15): one read, one decode scaled
    for the grid's 400 px rendition, that rendition and the placeholder from memory."""
    return imaging.result_ingest(data, EAGER_WIDTHS).placeholder


def preview(data: bytes) -> bytes:
    """The 800 and 1600 px renditions, made after the ingest on the low-priority queue."""
    return imaging.thumbnails_make(data, LATER_WIDTHS)[-1].data


PIPELINES: dict[str, Callable[[bytes], object]] = {
    "ours": ours,
    "naive": naive,
    "pipeline": pipeline,
    "ingest": ingest,
    "preview": preview,
}


# --------------------------------------------------------------------------------------------
# Measuring


def pin_to_one_core() -> int:
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]  # nearest rank


def peak_rss_kib() -> int:
    """This process's peak resident set size (VmHWM) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def peak_rss_added_mb(name: str, path: Path) -> float:
    """Run one pipeline once in a fresh interpreter; the growth of its peak RSS in MB."""
    run = subprocess.run(
        [sys.executable, __file__, "--child", name, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(run.stdout.strip()) / 1024


def child(name: str, path: str) -> None:
    pin_to_one_core()
    data = Path(path).read_bytes()
    function = PIPELINES[name]
    before = peak_rss_kib()
    function(data)
    print(peak_rss_kib() - before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per pipeline (>= 15)")
    parser.add_argument("--child", nargs=2, metavar=("PIPELINE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    executable = os.path.relpath(sys.executable)
    print("$", shlex.join([executable, os.path.relpath(__file__), *sys.argv[1:]]))
    core = pin_to_one_core()
    print(
        f"Python {platform.python_version()}, Pillow {Image.__version__} "
        f"(libjpeg-turbo {features.version('libjpeg_turbo')}, libwebp {features.version('webp')}), "
        f"{platform.machine()}, pinned to CPU {core}, {args.runs} runs each"
    )

    data = photo_jpeg()
    print(f"source: {SIDE}x{SIDE} q90 JPEG, {len(data) / 1e6:.2f} MB\n")

    for function in PIPELINES.values():  # warm up: plugin imports, first-call costs
        function(data)

    times: dict[str, list[float]] = {"ours": [], "naive": []}
    for _ in range(args.runs):
        times["ours"].append(timed(lambda: ours(data)))
        times["naive"].append(timed(lambda: naive(data)))

    stages: dict[str, list[float]] = {
        "inspect": [],
        "thumbnails": [],
        "placeholder": [],
        "total": [],
    }
    for _ in range(args.runs):
        marks = [time.perf_counter()]
        imaging.result_inspect(data)
        marks.append(time.perf_counter())
        thumbnails = imaging.thumbnails_make(data)
        marks.append(time.perf_counter())
        imaging.placeholder_make(thumbnails[0].data)
        marks.append(time.perf_counter())
        for key, start, end in zip(stages, marks, marks[1:], strict=False):
            stages[key].append((end - start) * 1000)
        stages["total"].append((marks[-1] - marks[0]) * 1000)

    with tempfile.NamedTemporaryFile(suffix=".jpg") as source:
        source.write(data)
        source.flush()
        memory = {name: peak_rss_added_mb(name, Path(source.name)) for name in PIPELINES}

    sizes = {"ours": len(ours(data)), "naive": len(naive(data))}
    labels = {
        "ours": f"ours: thumbnail_webp(src, {WIDTH})",
        "naive": f"naive: full decode + LANCZOS {WIDTH}² + WebP q80 m4",
    }
    print(f"{SIDE}² JPEG -> {WIDTH} px WebP")
    print(f"{'pipeline':<48} {'median':>9} {'p95':>9} {'peak RSS +':>11} {'output':>9}")
    for name in ("ours", "naive"):
        median, high = statistics.median(times[name]), p95(times[name])
        print(
            f"{labels[name]:<48} {median:>6.1f} ms {high:>6.1f} ms"
            f" {memory[name]:>8.1f} MB {sizes[name] / 1000:>6.1f} KB"
        )
    speedup = statistics.median(times["naive"]) / statistics.median(times["ours"])
    print(f"{'speedup (naive median / ours median)':<48} {speedup:>7.1f}x")

    print("\nfull pipeline per finished image")
    print(f"{'stage':<48} {'median':>9} {'p95':>9}")
    names = {
        "inspect": "result_inspect (header cap + 1/8 decode)",
        "thumbnails": "thumbnails_make (400, 800, 1600 WebP)",
        "placeholder": "placeholder_make (from the 400 px WebP)",
        "total": "total",
    }
    for key, label in names.items():
        samples = stages[key]
        print(f"{label:<48} {statistics.median(samples):>6.1f} ms {p95(samples):>6.1f} ms")
    print(f"{'peak RSS added, whole pipeline':<48} {memory['pipeline']:>6.1f} MB")
    print(
        "sizes: "
        + ", ".join(
            f"{t.width} px {len(t.data) / 1000:.1f} KB" for t in imaging.thumbnails_make(data)
        )
    )

    # Issue 15: the per-result ingest against the floor (one 400 px thumbnail) and the old
    # pipeline, timed alternately in this run.
    runs: dict[str, list[float]] = {"ours": [], "ingest": [], "pipeline": [], "preview": []}
    for _ in range(args.runs):
        for name in runs:
            runs[name].append(timed(lambda name=name: PIPELINES[name](data)))
    floor = statistics.median(runs["ours"])
    print(f"\nper-result ingest (issue 15), {SIDE}² JPEG, alternated run by run")
    print(f"{'pipeline':<58} {'median':>9} {'p95':>9} {'x floor':>8} {'peak RSS +':>11}")
    described = {
        "ours": "floor: one 400 px thumbnail (thumbnail_webp)",
        "ingest": "ingest now: result_ingest (400, placeholder)",
        "pipeline": "ingest before: inspect + 400/800/1600 + placeholder",
        "preview": "later (low-priority queue): 800 + 1600 px",
    }
    for name, label in described.items():
        median = statistics.median(runs[name])
        print(
            f"{label:<58} {median:>6.1f} ms {p95(runs[name]):>6.1f} ms {median / floor:>7.1f}x"
            f" {memory[name]:>8.1f} MB"
        )

    placeholder_and_effort(args.runs)

    print(
        "\ntargets (issue): 400 px median <= 80 ms, >= 3x naive, peak RSS added <= 32 MB"
        "; issue 15: eager ingest <= 5x the floor"
        " (informational: this script does not pass or fail)"
    )


def placeholder_and_effort(runs: int) -> None:
    """Issue 15's two cuts in the ingest's imaging, each beside what it replaced: the app's
    blurhash encoder against the reference ``blurhash`` package on a 32 px image, and the
    grid rendition's WebP effort 2 (ingest) against 4 on six of the simulator's 2048 px photo
    results (time, bytes and PSNR against the pixels before encoding)."""
    import blurhash  # the reference encoder: a dev dependency, as the tests use it

    from seedream.simulator.images import render_result

    tiny = Image.open(io.BytesIO(photo_jpeg(512))).convert("RGB").resize((32, 32))
    rows = [[tiny.getpixel((x, y)) for x in range(32)] for y in range(32)]
    times: dict[str, list[float]] = {"app": [], "reference": []}
    for _ in range(runs):
        times["app"].append(timed(lambda: imaging._blurhash_encode(tiny, 4, 3)))
        times["reference"].append(timed(lambda: blurhash.encode(rows, 4, 3)))
    same = imaging._blurhash_encode(tiny, 4, 3) == blurhash.encode(rows, 4, 3)
    print("\nplaceholder (issue 15): blurhash 4x3 of a 32 px image, alternated")
    print(f"{'encoder':<48} {'median':>9} {'p95':>9}")
    for name, label in (("app", "app: one axis at a time"), ("reference", "reference package")):
        print(f"{label:<48} {statistics.median(times[name]):>6.2f} ms {p95(times[name]):>6.2f} ms")
    print(f"same hash: {'yes' if same else 'NO'}")

    tiles = []
    for n in range(6):
        result = render_result(f"a lighthouse {n}", "2K", "photo", False, [], str(n))
        with Image.open(io.BytesIO(result)) as decoded:
            decoded.draft("RGB", (512, 512))
            tiles.append(decoded.convert("RGB").resize((WIDTH, WIDTH), Image.Resampling.BICUBIC))
    print(f"\ngrid rendition (issue 15): {WIDTH} px WebP q80 of 6 simulator photos, by effort")
    print(f"{'effort':<48} {'median':>9} {'bytes':>9} {'PSNR':>9}")
    for method, label in ((imaging.INGEST_WEBP_METHOD, "ingest now"), (4, "before")):
        spent, sizes, quality = [], [], []
        for tile in tiles:

            def encode(tile: Image.Image = tile, method: int = method) -> bytes:
                out = io.BytesIO()
                tile.save(out, "WEBP", quality=80, method=method)
                return out.getvalue()

            spent += [timed(encode) for _ in range(max(3, runs // 3))]
            encoded = encode()
            sizes.append(len(encoded))
            quality.append(psnr(tile, Image.open(io.BytesIO(encoded)).convert("RGB")))
        print(
            f"{f'{label}: method {method}':<48} {statistics.median(spent):>6.1f} ms"
            f" {statistics.mean(sizes):>9.0f} {statistics.mean(quality):>6.2f} dB"
        )


def psnr(a: Image.Image, b: Image.Image) -> float:
    from PIL import ImageStat

    mse = sum(v * v for v in ImageStat.Stat(ImageChops.difference(a, b)).rms) / 3
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


if __name__ == "__main__":
    main()
