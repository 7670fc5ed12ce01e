"""Horizontal bands: process a page a few rows at a time, with results identical to
whole-page processing.

Every filter of the classical method is local: an output row depends on the input rows
within a fixed distance (the halo). A band of output rows ``[r0, r1)`` is computed from the
input rows ``[r0 − halo, r1 + halo)`` clipped to the page; where the clip falls on the page
border the filters' own border replication applies, exactly as on the whole page, and
elsewhere the halo rows make the band's rows exact. Bands bound the memory of the large
temporaries (a few rows instead of the page) and keep them in the CPU caches; independent
bands can run on several threads (OpenCV and NumPy release the GIL).

Connected components cannot be cut into bands that way: :func:`merge_components` joins
the components of consecutive bands across their common border.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Default work size of a band, in pixels: a band's float32 temporaries take a few
#: megabytes per thread (they stay in the shared cache) and Python's per-call overhead
#: stays small; 2¹⁹ measured fastest on a 24 MP page (between 2¹⁸ and 2²⁰).
BAND_PIXELS = 1 << 19


def band_height(cols: int, pixels: int = BAND_PIXELS, minimum: int = 16) -> int:
    """Rows per band for a page ``cols`` wide: about ``pixels`` pixels, at least ``minimum``."""
    return max(minimum, pixels // max(cols, 1))


def bands(rows: int, height: int) -> list[tuple[int, int]]:
    """Split ``range(rows)`` into consecutive ``(r0, r1)`` of ``height`` rows.

    The remainder joins the last band when it is shorter than half a band, so no band is
    much shorter than ``height`` (unless the page is).
    """
    height = max(1, int(height))
    starts = list(range(0, rows, height))
    if len(starts) > 1 and rows - starts[-1] < height // 2:
        starts.pop()
    ends = starts[1:] + [rows]
    return list(zip(starts, ends))


def with_halo(r0: int, r1: int, halo: int, rows: int) -> tuple[int, int]:
    """Input rows ``[r0 − halo, r1 + halo)`` clipped to ``[0, rows)``."""
    return max(0, r0 - halo), min(rows, r1 + halo)


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_count(threads: int | None) -> int:
    """Threads for band processing: ``threads`` if > 0, else OpenCV's thread count
    (``cv2.setNumThreads``; worker processes set it to 1) limited to the usable CPUs."""
    if threads is not None and threads > 0:
        return int(threads)
    import cv2

    return max(1, min(cv2.getNumThreads(), cpu_count()))


# One pool of threads per thread count, kept for the process: a page runs several passes
# over its bands, and threads that stay (with their allocator arenas and caches warm) make
# a 24 MP page ~4 % faster than a new pool per pass. A forked child starts without them.
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
_IN_POOL = threading.local()


def _mark_pool_thread() -> None:
    _IN_POOL.active = True


def _forget_pools() -> None:
    global _POOLS_LOCK
    _POOLS.clear()  # their threads exist only in the parent
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def _pool(threads: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="docbin-bands",
                                      initializer=_mark_pool_thread)
            _POOLS[threads] = pool
        return pool


def map_bands(function: Callable, items: Sequence, threads: int = 1) -> list:
    """``[function(item) for item in items]``, on ``threads`` threads when > 1 (same order).

    The threads are kept between calls. A call from one of them runs in that thread (a pass
    inside a band never waits for threads that are all busy with bands). If an item fails,
    the items not started are cancelled and the error is raised.
    """
    if threads <= 1 or len(items) <= 1 or getattr(_IN_POOL, "active", False):
        return [function(item) for item in items]
    futures = [_pool(threads).submit(function, item) for item in items]
    try:
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        raise


# --- connected components across bands ---------------------------------------------------------


def _roots(parent: np.ndarray) -> np.ndarray:
    """Follow parent pointers to the roots (pointer jumping; parent[i] <= i)."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def union_find(count: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Root of every node 0..count−1 after joining each pair ``(first[i], second[i])``.

    The root of a set is its smallest node.
    """
    parent = np.arange(count, dtype=np.int64)
    first = np.asarray(first, np.int64)
    second = np.asarray(second, np.int64)
    while first.size:
        parent = _roots(parent)
        a, b = parent[first], parent[second]
        differ = a != b
        if not differ.any():
            break
        a, b = a[differ], b[differ]
        np.minimum.at(parent, np.maximum(a, b), np.minimum(a, b))
        first, second = first[differ], second[differ]
    return _roots(parent)


def border_pairs(above: np.ndarray, below: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of labels 8-connected across a border: ``above`` is the last row of labels of
    one band, ``below`` the first row of the next (label < 0: background)."""
    pairs_a, pairs_b = [], []
    cols = above.size
    for shift in (-1, 0, 1):
        a = above[max(0, -shift):cols - max(0, shift)]
        b = below[max(0, shift):cols - max(0, -shift)]
        both = (a >= 0) & (b >= 0)
        pairs_a.append(a[both])
        pairs_b.append(b[both])
    return np.concatenate(pairs_a), np.concatenate(pairs_b)


def merge_components(parts: Sequence[dict]) -> dict[str, np.ndarray]:
    """Join per-band component statistics into the page's components.

    Parameters
    ----------
    parts : sequence of dict
        One per band, top to bottom, with arrays ``left``, ``top``, ``right``, ``bottom``
        (page coordinates, inclusive) and ``area`` of the band's components, and
        ``first_row`` / ``last_row``: the band's top and bottom rows of component indices
        (−1 on background).

    Returns
    -------
    dict
        ``left``, ``top``, ``right``, ``bottom``, ``area`` of the page's 8-connected
        components (in no particular order).
    """
    keys = ("left", "top", "right", "bottom", "area")
    offsets = np.cumsum([0] + [len(part["area"]) for part in parts])
    total = int(offsets[-1])
    stacked = {key: np.concatenate([np.asarray(part[key], np.int64) for part in parts])
               if parts else np.zeros(0, np.int64) for key in keys}
    firsts, seconds = [], []
    for index in range(len(parts) - 1):
        above = _global(parts[index]["last_row"], offsets[index])
        below = _global(parts[index + 1]["first_row"], offsets[index + 1])
        a, b = border_pairs(above, below)
        firsts.append(a)
        seconds.append(b)
    if not firsts or not sum(len(a) for a in firsts):
        return stacked
    # only the components on a band border take part in the joining; the others are whole
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    nodes, inverse = np.unique(np.concatenate([first, second]), return_inverse=True)
    root = union_find(len(nodes), inverse[:len(first)], inverse[len(first):])
    order = np.argsort(root, kind="stable")
    starts = np.flatnonzero(np.r_[True, root[order][1:] != root[order][:-1]])
    members = nodes[order]
    whole = np.ones(total, bool)
    whole[nodes] = False
    reduce = {"left": np.minimum, "top": np.minimum, "right": np.maximum,
              "bottom": np.maximum, "area": np.add}
    return {key: np.concatenate([stacked[key][whole],
                                 reduce[key].reduceat(stacked[key][members], starts)])
            for key in keys}


def _global(labels: np.ndarray, offset: int) -> np.ndarray:
    labels = np.asarray(labels, np.int64)
    return np.where(labels >= 0, labels + offset, -1)
