"""Speed and memory of docbin beside two classical peers, on generated pages.

Pages of 6, 24 and 140 megapixels come from the project's page generator
(:func:`docbin.synth.degraded_page`, cached as ``.npy`` files). In one process, every
method runs once to warm up, then the methods take turns (the order rotates each round)
until each has ``--repeats`` timed runs (``--large-repeats`` on pages of 100 MP and more);
the table gives the median time, megapixels per second and the ratio to doxapy's Sauvola.
Peak extra memory of each method is measured in a separate process per page and method:
the child loads the page, warms the method up on a 2048 × 2048 crop, resets the kernel's
peak-RSS counter (``/proc/self/clear_refs``), runs the method once and reports
(VmHWM − VmRSS before the run) / pixels. It counts everything the method allocates,
OpenCV's and onnxruntime's buffers included, and the output page.

Methods: ``docbin classical`` (on all usable cores, the default), ``docbin classical 1
thread`` (``threads=1``: its CPU cost beside doxapy's single thread), ``docbin classical no
kernels`` (the statistics step and the rule in their OpenCV/NumPy form, as installed where
no C compiler was found; only when ``docbin._kernels`` is built) and ``docbin classical
region`` (``--scope region``); ``docbin hybrid`` (the classical decision refined near its
threshold by the network given with ``--model PATH``, or the packaged one; skipped with a
note when there is none); ``doxapy Sauvola`` (window 75, k 0.2); ``OpenCV adaptive mean``
(``cv2.adaptiveThreshold``, ADAPTIVE_THRESH_MEAN_C, block 75, C 10); ``OpenCV median, page's
K`` (one ``cv2.medianBlur`` of the page with the window docbin measures on it: the classical
decision's median alone, single-threaded); ``docbin clean step`` (the clean step of
docbin/method/clean.py alone, on the page's classical decision made beforehand, a copy of
it cleaned per run: its memory is what the step adds). After the table, docbin classical's
time per step (statistics, decision; ``info["timings"]``).

The machine may be shared: the load average before and after is printed, and the ratios
(measured in the same rounds) are steadier than the times.

Usage::

    python benchmarks/speed.py                       # 6, 24 and 140 MP
    python benchmarks/speed.py --sizes 6,24 --repeats 7 --markdown speed.md
    python benchmarks/speed.py --model path/to/model.onnx
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DOXAPY = "doxapy Sauvola"
METHODS = ("docbin classical", "docbin classical 1 thread", "docbin classical no kernels",
           "docbin classical region",
           "docbin hybrid", DOXAPY, "OpenCV adaptive mean", "OpenCV median, page's K",
           "docbin clean step")
LARGE_MP = 100.0


# --- pages -------------------------------------------------------------------------------------


def page_shape(megapixels: float) -> tuple[int, int]:
    """Rows × cols of a 3:2 portrait page of about ``megapixels`` MP."""
    rows = round(math.sqrt(megapixels * 1e6 * 1.5))
    return rows, round(megapixels * 1e6 / rows)


def fallback_page(rows: int, cols: int, seed: int) -> np.ndarray:
    """A plain synthetic page (used only when docbin.synth is missing): dark text lines on
    an unevenly lit, noisy background."""
    import cv2

    rng = np.random.default_rng(seed)
    page = np.full((rows, cols), 205, np.uint8)
    height = max(12, rows // 60)
    scale = height / 22.0
    for top in range(2 * height, rows - height, 2 * height):
        words = " ".join("".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 6))
                         for _ in range(max(1, cols // (8 * height))))
        cv2.putText(page, words, (height, top), cv2.FONT_HERSHEY_SIMPLEX, scale, 60,
                    max(1, height // 8), cv2.LINE_AA)
    light = np.linspace(-25, 20, cols, dtype=np.float32)[None, :]
    noisy = page.astype(np.float32) + light + rng.normal(0, 6, (rows, cols)).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def make_page(megapixels: float, cache: Path, seed: int = 2024) -> tuple[Path, str]:
    """The cached page file for a size, generated on first use; and how it was made."""
    rows, cols = page_shape(megapixels)
    try:
        from docbin.synth import degraded_page
    except ImportError:
        degraded_page = None
    source = "docbin.synth.degraded_page" if degraded_page else "fallback generator"
    path = cache / f"page_{rows}x{cols}_seed{seed}_{'synth' if degraded_page else 'plain'}.npy"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        if degraded_page is not None:
            page = degraded_page(rows, cols, seed=seed)[0]
        else:
            page = fallback_page(rows, cols, seed)
        np.save(path, page)
    return path, source


# --- methods -----------------------------------------------------------------------------------


def find_model(model: str | None) -> str | None:
    """The network to time: ``model``, or "" for the packaged one; None when none loads."""
    from docbin.method.refine import load_refiner

    try:
        load_refiner(model)
    except Exception as error:  # noqa: BLE001 - reported as a note, the run goes on
        print(f"note: no hybrid network ({error})", file=sys.stderr)
        return None
    return model or ""


def without_kernels(run):
    """``run()`` with the statistics step and the rule in their OpenCV/NumPy form, as where
    docbin's compiled kernels (``docbin._kernels``) were not built."""
    from docbin.method import kernels

    compiled, kernels.compiled = kernels.compiled, None
    try:
        return run()
    finally:
        kernels.compiled = compiled


def build_methods(model: str | None) -> dict:
    """name -> function(page) -> binary page, for the methods that can run here."""
    import cv2

    from docbin import binarize

    methods = {"docbin classical": lambda page: binarize(page, "classical").image,
               "docbin classical 1 thread": lambda page: binarize(page, "classical",
                                                                  threads=1).image,
               "docbin classical region": lambda page: binarize(page, "classical",
                                                                scope="region").image}
    from docbin.method import kernels

    if kernels.compiled is not None:
        methods["docbin classical no kernels"] = lambda page: without_kernels(
            lambda: binarize(page, "classical").image)
    if model is not None:
        methods["docbin hybrid"] = lambda page: binarize(page, "hybrid",
                                                         model=model or None).image
    try:
        import doxapy
    except ImportError:
        doxapy = None
    if doxapy is not None:
        def sauvola(page):
            out = np.empty_like(page)
            algorithm = doxapy.Binarization(doxapy.Binarization.Algorithms.SAUVOLA)
            algorithm.initialize(page)
            algorithm.to_binary(out, {"window": 75, "k": 0.2})
            return out

        methods[DOXAPY] = sauvola
    methods["OpenCV adaptive mean"] = lambda page: cv2.adaptiveThreshold(
        page, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 75, 10)

    radii: dict = {}

    def median_only(page):
        """One cv2.medianBlur of the whole page with docbin's window for it, in one thread:
        the part of the classical decision that no implementation detail of docbin can
        remove (the window radius is measured once, in the warm-up run)."""
        key = (page.shape, page.ctypes.data)
        if key not in radii:
            from docbin.method.stats import measure_page

            radii[key] = measure_page(page)[0].window_radius
        size = 2 * radii[key] + 1
        return cv2.medianBlur(page, size) if size <= 255 else page

    methods["OpenCV median, page's K"] = median_only
    methods.update(clean_step_methods())
    return methods


def clean_step_methods() -> dict:
    """``docbin clean step``: the clean step alone (docbin/method/clean.py) on the classical
    decision of the page, which is computed once per page outside the timed part
    (``.prepare(page)``); each run cleans a copy of it (the copy is timed too)."""
    try:
        from docbin.method.clean import clean_components, load_cleaner

        cleaner = load_cleaner()
    except Exception as error:  # noqa: BLE001 - reported as a note, the run goes on
        print(f"note: no clean step ({error})", file=sys.stderr)
        return {}
    from docbin import binarize
    from docbin.method.stats import measure_page

    prepared: dict = {}

    def prepare(page):
        key = (page.shape, page.ctypes.data)
        if key not in prepared:
            prepared.clear()
            prepared[key] = (binarize(page, "classical").image, measure_page(page)[0])
        return prepared[key]

    def clean_step(page):
        binary, stats = prepare(page)
        return clean_components(page, binary.copy(), stats, cleaner=cleaner)[0]

    clean_step.prepare = prepare
    return {"docbin clean step": clean_step}


def step_times(page: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds of docbin classical's two steps (``info["timings"]``) and its K."""
    from docbin import binarize

    steps: dict[str, list[float]] = {}
    for _ in range(repeats):
        info = binarize(page, "classical").info
        for step, seconds in info["timings"].items():
            steps.setdefault(step, []).append(seconds)
    out = {step: statistics.median(values) for step, values in steps.items()}
    out["K"] = info["window_radius"]
    return out


# --- timing ------------------------------------------------------------------------------------


def time_methods(page: np.ndarray, methods: dict, repeats: int) -> dict[str, list[float]]:
    """Seconds per run of every method, runs interleaved, the order rotating each round."""
    names = list(methods)
    for name in names:  # warm-up: imports, sessions, first allocations
        methods[name](page)
    times = {name: [] for name in names}
    for round_ in range(repeats):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            start = time.perf_counter()
            methods[name](page)
            times[name].append(time.perf_counter() - start)
    return times


# --- memory ------------------------------------------------------------------------------------


def _status(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def memory_probe(method: str, page_path: str, model: str | None) -> dict:
    """Run in a child process: peak extra resident memory of one run of ``method``."""
    import gc

    methods = build_methods(model)
    page = np.load(page_path)
    # warm-up on a crop: imports, the onnxruntime session and its arena are per process,
    # not per page
    methods[method](np.ascontiguousarray(page[:2048, :2048]))
    if hasattr(methods[method], "prepare"):  # a step: what it starts from is not its cost
        methods[method].prepare(page)
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset VmHWM (the peak) to the current RSS
        resettable = True
    except OSError:
        resettable = False
    base = _status("VmRSS")
    if not resettable:  # the peak so far cannot be forgotten: it must be below the run's
        base = max(base, _status("VmHWM"))
    start = time.perf_counter()
    methods[method](page)
    seconds = time.perf_counter() - start
    peak = _status("VmHWM")
    return {"method": method, "pixels": int(page.size), "extra_bytes": max(0, peak - base),
            "seconds": seconds, "resettable": resettable}


def measure_memory(method: str, page_path: Path, model: str | None) -> dict | None:
    command = [sys.executable, __file__, "--memory-probe", method, str(page_path)]
    if model:
        command += ["--model", model]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"note: memory probe of {method} failed:\n{done.stderr.strip()}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report ------------------------------------------------------------------------------------


def table(rows: list[dict]) -> str:
    header = ("| page | method | runs | median s | MP/s | × doxapy | extra peak B/px |\n"
              "|---|---|---:|---:|---:|---:|---:|")
    lines = [header]
    for row in rows:
        memory = "—" if row["bytes_per_px"] is None else f"{row['bytes_per_px']:.2f}"
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.2f}"
        lines.append(f"| {row['page']} | {row['method']} | {row['runs']} | "
                     f"{row['seconds']:.3f} | {row['mp_per_s']:.1f} | {ratio} | {memory} |")
    return "\n".join(lines)


def environment() -> str:
    import cv2

    threads = cv2.getNumThreads()
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}",
                f"OpenCV {cv2.__version__}"]
    from importlib.metadata import PackageNotFoundError, version

    try:
        versions.append(f"doxapy {version('doxapy')}")
    except PackageNotFoundError:
        versions.append("no doxapy")
    from docbin.method import kernels

    built = "built" if kernels.compiled is not None else "not built"
    return (f"{platform.processor() or platform.machine()}, {cpus} usable CPUs, "
            f"OpenCV threads {threads}; docbin's compiled kernels {built}; "
            + ", ".join(versions))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="6,24,140", help="page sizes in MP (comma-separated)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method (>= 5)")
    parser.add_argument("--large-repeats", type=int, default=3,
                        help=f"timed runs per method on pages of {LARGE_MP:g} MP and more")
    parser.add_argument("--model", help="hybrid network (default: the packaged one)")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "docbin-bench"),
                        help="folder for the generated pages")
    parser.add_argument("--seed", type=int, default=2024, help="page generator seed")
    parser.add_argument("--methods", help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--threads", type=int,
                        help="cv2.setNumThreads for every method (docbin's bands follow it)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory probes")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--memory-probe", nargs=2, metavar=("METHOD", "PAGE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    model = find_model(args.model)
    if args.threads:
        import cv2

        cv2.setNumThreads(args.threads)
    if args.memory_probe:
        print(json.dumps(memory_probe(*args.memory_probe, model)))
        return 0

    methods = build_methods(model)
    if args.methods:
        wanted = [m.strip() for m in args.methods.split(",")]
        methods = {name: methods[name] for name in wanted if name in methods}
    if "docbin hybrid" not in methods and (not args.methods or "docbin hybrid" in args.methods):
        print("note: docbin hybrid skipped: no model (pass --model PATH)", file=sys.stderr)
    print(f"# {environment()}")
    print(f"# load average before: {os.getloadavg()}")
    rows = []
    notes: list[str] = []
    for size in (float(s) for s in args.sizes.split(",")):
        path, source = make_page(size, Path(args.cache), args.seed)
        page = np.load(path)
        repeats = args.large_repeats if size >= LARGE_MP else args.repeats
        label = f"{page.size / 1e6:.0f} MP ({page.shape[0]}×{page.shape[1]})"
        print(f"# {label} from {source} (seed {args.seed}): {repeats} timed runs per method",
              flush=True)
        times = time_methods(page, methods, repeats)
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, values in times.items():
            memory = None
            if not args.no_memory:
                memory = measure_memory(name, path, model)
            seconds = medians[name]
            rows.append({
                "page": label, "method": name, "runs": len(values), "seconds": seconds,
                "mp_per_s": page.size / 1e6 / seconds,
                "ratio": seconds / medians[DOXAPY] if DOXAPY in medians else None,
                "bytes_per_px": None if memory is None else memory["extra_bytes"] / page.size,
                "all_seconds": values})
            print(f"  {name:22s} median {seconds:7.3f} s  runs "
                  + " ".join(f"{v:.3f}" for v in values)
                  + ("" if memory is None else
                     f"  extra peak {memory['extra_bytes'] / page.size:.2f} B/px"), flush=True)
        if "docbin classical" in times:
            steps = step_times(page, min(repeats, 5))
            line = ", ".join(f"{step} {seconds:.3f} s" for step, seconds in steps.items()
                             if step != "K")
            print(f"# docbin classical by step (K = {steps['K']}): {line}", flush=True)
            notes.append(f"{label}: docbin classical by step (K = {steps['K']}): {line}")
        del page
    print(f"# load average after: {os.getloadavg()}")
    print()
    print(table(rows))
    for note in notes:
        print(f"\n{note}")
    if args.markdown:
        Path(args.markdown).write_text(
            f"Measured on {environment()}.\n\n{table(rows)}\n"
            + "".join(f"\n{note}\n" for note in notes), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
