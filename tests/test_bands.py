"""The band thread pool of docbin.method.bands."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from docbin.method import bands


def test_map_bands_keeps_the_order_on_threads():
    items = list(range(50))

    def slow_square(i):
        time.sleep(0.001 * (i % 3))
        return i * i

    assert bands.map_bands(slow_square, items, 2) == [i * i for i in items]
    assert bands.map_bands(slow_square, items, 1) == [i * i for i in items]


def test_map_bands_reuses_its_threads():
    names = set()

    def name(_):
        time.sleep(0.002)
        return threading.current_thread().name

    for _ in range(3):
        names.update(bands.map_bands(name, range(8), 2))
    assert len(names) == 2
    assert all(n.startswith("docbin-bands") for n in names)


def test_map_bands_raises_the_first_error_and_goes_on_working():
    def fail_on_three(i):
        if i == 3:
            raise ValueError("item 3")
        return i

    with pytest.raises(ValueError, match="item 3"):
        bands.map_bands(fail_on_three, range(10), 2)
    assert bands.map_bands(lambda i: i + 1, range(5), 2) == [1, 2, 3, 4, 5]


def test_a_call_from_a_band_thread_runs_in_that_thread():
    # both pool threads busy with outer items that each map inner items: no deadlock
    def outer(i):
        here = threading.get_ident()
        inner = bands.map_bands(lambda j: (i * j, threading.get_ident()), range(4), 2)
        assert all(ident == here for _, ident in inner)
        return [value for value, _ in inner]

    assert bands.map_bands(outer, range(4), 2) == [[i * j for j in range(4)] for i in range(4)]


def _child(queue):
    queue.put(bands.map_bands(lambda i: i * 2, range(6), 2))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="needs the fork start method")
def test_a_forked_child_gets_its_own_threads():
    bands.map_bands(lambda i: i, range(4), 2)  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("map_bands hung in a forked child")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == [0, 2, 4, 6, 8, 10]
