"""The batch runner without a cluster: storage URLs (memory://, a faulty backend), the
manifest and resuming, the Python API, Ctrl-C. Dask itself: test_cluster.py."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import docbin
from docbin import batch
from docbin import io as dio
from docbin.batch import runner as batch_runner
from docbin.batch.manifest import FIELDS, read_records, summarise
from docbin.batch.task import Settings, Task
from docbin.errors import ExitCode
from docbin.options import Options

fsspec = pytest.importorskip("fsspec")

import faulty_storage

CLASSICAL = ("--method", "classical")


@pytest.fixture
def memory():
    """fsspec's memory file system, emptied after the test."""
    fs = fsspec.filesystem("memory")
    yield fs
    fs.store.clear()
    fs.pseudo_dirs.clear()
    fs.pseudo_dirs.append("")


def png_bytes(page: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, format="PNG")
    return buffer.getvalue()


def expected(data: bytes) -> np.ndarray:
    return docbin.binarize(dio.read_image(data).image, "classical").image


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def bad_pages(put, make_page, unreadable: bool = True) -> dict:
    """Corrupt, zero-byte, too large and (on the faulty backend) unreadable pages;
    name -> words of the reason."""
    put("corrupt.png", b"\x89PNG\r\n\x1a\n garbage")
    put("zero.png", b"")
    put("large.png", png_bytes(make_page(400, 400, seed=8)))
    reasons = {"corrupt.png": "cannot decode", "zero.png": "empty",
               "large.png": "--max-megapixels"}
    if unreadable:
        put("unreadable.png", png_bytes(make_page(seed=9)))
        reasons["unreadable.png"] = "Permission denied"
    return reasons


# --- the local pool ------------------------------------------------------------------------

class _DeadPool:
    """An executor whose worker process has died: every submit fails like a broken pool."""

    def __init__(self):
        self.submitted = 0

    def submit(self, function, *args):
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        self.submitted += 1
        future = Future()
        future.set_exception(BrokenProcessPool("a worker died"))
        return future


def _page_jobs(folder, make_page, count):
    """``count`` (task, settings) jobs of classical binarization, pages in ``folder``."""
    from docbin.batch.storage import location

    settings = Settings(options=Options(method="classical"))
    jobs = []
    for k in range(count):
        source = folder / f"p{k}.png"
        source.write_bytes(png_bytes(make_page(seed=k)))
        task = Task(k, location(source), location(folder / f"out{k}.png"), str(source))
        jobs.append((task, settings))
    return jobs


def test_a_dead_worker_fails_its_page_and_the_batch_goes_on(tmp_path, make_page):
    jobs = _page_jobs(tmp_path, make_page, 5)
    pool = _DeadPool()
    outcomes = list(batch_runner._shared_map(pool, jobs, 1))
    assert [o.label for o in outcomes] == [job[0].label for job in jobs]  # in order, none lost
    failed = [o for o in outcomes if o.error is not None]
    assert pool.submitted == 1 and len(failed) == 1  # the helper stops after the death
    assert "worker process died" in failed[0].error
    assert failed[0].records[0]["status"] == "failed"
    for outcome, job in zip(outcomes, jobs):
        assert job[0].target.path.exists() == (outcome.error is None)


class _ShutPool:
    """An executor shut down under its helper threads (Ctrl-C in the main process)."""

    def __init__(self):
        self.submitted = 0

    def submit(self, function, *args):
        self.submitted += 1
        raise RuntimeError("cannot schedule new futures after shutdown")


def test_a_pool_shut_down_under_a_helper_hands_its_page_back(tmp_path, make_page,
                                                            monkeypatch):
    import threading

    raised = []
    monkeypatch.setattr(threading, "excepthook", raised.append)
    jobs = _page_jobs(tmp_path, make_page, 3)
    pool = _ShutPool()
    outcomes = []  # in a thread: a page the helper lost would make the map wait forever
    runner = threading.Thread(target=lambda: outcomes.extend(batch_runner._shared_map(pool, jobs, 1)),
                              daemon=True)
    runner.start()
    runner.join(timeout=120)
    assert not runner.is_alive(), "a page was lost: the map still waits for it"
    assert [o.label for o in outcomes] == [job[0].label for job in jobs]  # none lost
    assert all(o.error is None for o in outcomes) and pool.submitted == 1
    assert raised == []  # the helper stopped quietly: no traceback from its thread


# --- storage URLs ------------------------------------------------------------------------

def test_memory_folder_to_memory_folder(run, memory, make_page):
    pages = {"a.png": png_bytes(make_page(seed=0)), "sub/b.png": png_bytes(make_page(seed=1)),
             ".hidden.png": png_bytes(make_page(seed=2))}
    for name, data in pages.items():
        memory.pipe_file(f"/scans/{name}", data)
    memory.pipe_file("/scans/notes.txt", b"not an image")
    result = run("binarize", "memory://scans", "memory://clean/", "-r", *CLASSICAL)
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "docbin: 2 page(s) written, 0 skipped, 0 file(s) failed"
    assert sorted(memory.find("/clean")) == ["/clean/a.png", "/clean/sub/b.png"]
    for name in ("a.png", "sub/b.png"):
        out = memory.cat_file(f"/clean/{name}")
        np.testing.assert_array_equal(dio.read_image(out).image, expected(pages[name]))
    # existing outputs are skipped, replaced with --overwrite
    memory.pipe_file("/clean/a.png", b"done before")
    result = run("binarize", "memory://scans", "memory://clean", "-r", *CLASSICAL)
    assert "skipped memory://clean/a.png: it exists" in result.stderr
    assert "0 page(s) written, 2 skipped" in result.stderr  # b.png was done too
    assert memory.cat_file("/clean/a.png") == b"done before"
    result = run("binarize", "memory://scans", "memory://clean", "-r", "--overwrite",
                 *CLASSICAL)
    assert result.exit_code == 0 and "2 page(s) written, 0 skipped" in result.stderr
    assert memory.cat_file("/clean/a.png") != b"done before"


def test_memory_single_files_and_stdout(run, memory, make_page, tmp_path):
    data = png_bytes(make_page())
    memory.pipe_file("/in/page.png", data)
    assert run("binarize", "memory://in/page.png", "memory://out/page.tif",
               *CLASSICAL).exit_code == 0
    with Image.open(io.BytesIO(memory.cat_file("/out/page.tif"))) as image:
        assert (image.format, image.info["compression"]) == ("TIFF", "group4")
    result = run("binarize", "memory://in/page.png", "memory://out/page.tif", *CLASSICAL)
    assert result.exit_code == ExitCode.output_error
    assert error_lines(result) == ["docbin: error: memory://out/page.tif exists; pass "
                                   + "--overwrite to replace it"]
    result = run("binarize", "memory://in/page.png", "-", *CLASSICAL)
    np.testing.assert_array_equal(dio.read_image(result.stdout_bytes).image, expected(data))
    assert run("binarize", "memory://in/page.png", tmp_path, *CLASSICAL).exit_code == 0
    np.testing.assert_array_equal(dio.read_image(tmp_path / "page.png").image, expected(data))
    result = run("binarize", "memory://in/missing.png", tmp_path / "x.png")
    assert result.exit_code == ExitCode.input_error
    assert error_lines(result) == ["docbin: error: memory://in/missing.png: no such file"]


def test_a_failed_put_leaves_no_object(run, memory, make_page, monkeypatch):
    memory.pipe_file("/in/page.png", png_bytes(make_page()))

    def broken(self, path, value, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(memory), "pipe_file", broken)
    result = run("binarize", "memory://in/", "memory://out/", *CLASSICAL)
    assert result.exit_code == ExitCode.failed_pages
    assert "cannot write memory://out/page.png: [Errno 28] No space left on device" \
        in result.stderr
    assert memory.find("/out") == []


def test_temporary_name_then_move_on_file_systems(tmp_path, make_page, monkeypatch):
    """Backends that are not object stores get a temporary name, then a move: a failed
    move leaves neither the output nor the temporary file."""
    from docbin.batch.storage import location

    faulty_storage.register()
    target = location(f"faulty://{tmp_path}/out.png")
    target.write_bytes(b"complete", overwrite=False)
    assert (tmp_path / "out.png").read_bytes() == b"complete"
    with pytest.raises(docbin.errors.OutputError, match="exists"):
        target.write_bytes(b"again", overwrite=False)

    def broken(self, *args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(faulty_storage.FaultyFileSystem, "mv", broken)
    with pytest.raises(docbin.errors.OutputError, match="Input/output error"):
        location(f"faulty://{tmp_path}/new.png").write_bytes(b"x", overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


@pytest.mark.parametrize("url", ["foo://bucket/scans", "s3://bucket/scans"])
def test_unknown_or_missing_scheme_is_a_usage_error(run, tmp_path, url):
    if url.startswith("s3") and importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed (tests/test_s3.py runs s3:// URLs)")
    result = run("binarize", url, tmp_path / "out")
    assert result.exit_code == ExitCode.usage
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith(f"docbin: error: {url}: ")
    assert 'pip install "docbin[cluster]"' in lines[0]
    assert ("unknown storage scheme foo://" if url.startswith("foo") else "s3fs") in lines[0]
    result = run("binarize", tmp_path, url + "/out")
    assert result.exit_code == ExitCode.usage and len(error_lines(result)) == 1


# --- bad pages and the manifest ----------------------------------------------------------

@pytest.mark.parametrize("storage", ["local", "faulty", "memory"])
def test_bad_pages_are_failed_in_the_manifest(run, tmp_path, memory, make_page, storage):
    faulty_storage.register()
    good = {f"good{k}.png": png_bytes(make_page(seed=k)) for k in range(3)}
    if storage == "memory":
        root = "memory://scans"

        def put(name, data):
            memory.pipe_file(f"/scans/{name}", data)
    else:
        (tmp_path / "scans").mkdir()
        root = ("faulty://" if storage == "faulty" else "") + str(tmp_path / "scans")

        def put(name, data):
            (tmp_path / "scans" / name).write_bytes(data)
    for name, data in good.items():
        put(name, data)
    reasons = bad_pages(put, make_page, unreadable=storage == "faulty")
    out = tmp_path / "out"
    manifest = tmp_path / "run.jsonl"
    result = run("binarize", root, out, "--manifest", manifest, "--max-megapixels", "0.1",
                 *CLASSICAL)
    assert result.exit_code == ExitCode.failed_pages, result.output
    assert "Traceback" not in result.output
    records = {Path(item["input"]).name: item for item in read_records(manifest)}
    assert set(records) == set(good) | set(reasons)
    for name, words in reasons.items():
        item = records[name]
        assert item["status"] == "failed" and words in item["error"], item
        assert "\n" not in item["error"] and item["error"].startswith(f"{root}/{name}")
        assert f"docbin: failed: {item['error']}" in error_lines(result)
    for name, data in good.items():
        item = records[name]
        assert item["status"] == "ok" and item["error"] is None
        assert item["output"] == str(out / name)
        assert (item["rows"], item["cols"], item["page"], item["pages"]) == (80, 120, 1, 1)
        info = docbin.binarize(dio.read_image(data).image, "classical").info
        assert (item["ink_intensity"], item["contour_intensity"], item["window_radius"]) == (
            info["ink_intensity"], info["contour_intensity"], info["window_radius"])
        assert item["f"] == pytest.approx(info["f"]) and item["seconds"] > 0
        np.testing.assert_array_equal(dio.read_image(out / name).image, expected(data))
    assert sorted(p.name for p in out.iterdir()) == sorted(good)
    assert set(json.loads(manifest.read_text().splitlines()[0])) == set(FIELDS)


def test_rerun_with_the_manifest_resumes(run, tmp_path, make_page):
    scans = tmp_path / "scans"
    scans.mkdir()
    for k in range(3):
        (scans / f"p{k}.png").write_bytes(png_bytes(make_page(seed=k)))
    (scans / "bad.png").write_bytes(b"junk")
    frames = [Image.fromarray(make_page(seed=s)) for s in (3, 4)]
    frames[0].save(scans / "book.tif", save_all=True, append_images=frames[1:])
    out, manifest = tmp_path / "out", tmp_path / "run.jsonl"
    first = run("binarize", scans, out, "--manifest", manifest, *CLASSICAL)
    assert first.exit_code == ExitCode.failed_pages
    assert len(read_records(manifest)) == 6  # 5 pages and the bad file
    # the bad file is repaired; a done output (still there, its size as recorded) is not
    # touched again (a missing or damaged one is: test_hard_edges.py)
    (scans / "bad.png").write_bytes(png_bytes(make_page(seed=7)))
    os.utime(out / "p0.png", ns=(1, 1))
    second = run("binarize", scans, out, "--manifest", manifest, *CLASSICAL)
    assert second.exit_code == 0, second.output
    assert second.stderr.strip().endswith(
        f"1 page(s) written, 0 skipped, 0 file(s) failed, 4 file(s) done before ({manifest})")
    assert (out / "p0.png").stat().st_mtime_ns == 1
    records = read_records(manifest)
    assert len(records) == 7 and records[-1]["input"] == str(scans / "bad.png")
    assert records[-1]["status"] == "ok" and records[-1]["run"] != records[0]["run"]
    summary = summarise(records)
    assert (summary.pages, summary.status) == (6, {"ok": 6, "skipped": 0, "failed": 0})
    assert [item["page"] for item in records if item["input"].endswith("book.tif")] == [1, 2]
    # another output folder with the same manifest: nothing counts as done there
    third = run("binarize", scans, tmp_path / "elsewhere", "--manifest", manifest, *CLASSICAL)
    assert "6 page(s) written" in third.stderr


def test_manifest_command(run, tmp_path, make_page):
    scans = tmp_path / "scans"
    scans.mkdir()
    for k in range(3):
        (scans / f"p{k}.png").write_bytes(png_bytes(make_page(seed=k)))
    (scans / "bad.png").write_bytes(b"junk")
    manifest = tmp_path / "run.jsonl"
    run("binarize", scans, tmp_path / "out", "--manifest", manifest, *CLASSICAL)
    with manifest.open("a") as stream:
        stream.write('{"input": "cut sh')  # a run killed while writing a line
    result = run("manifest", manifest, "--slowest", "2")
    assert result.exit_code == ExitCode.failed_pages
    lines = result.stdout.splitlines()
    assert lines[0].startswith("pages: 4 (3 ok, 0 skipped, 1 failed) in 1 run(s) on ")
    assert lines[1].startswith("throughput: ") and "pages/s" in lines[1]
    assert lines[2] == "slowest:" and len([line for line in lines if " s  " in line]) == 2
    assert lines[-2:] == ["failed:", f"  {scans / 'bad.png'}: not an image, or a format "
                          + "docbin cannot read"]
    # the next run ends the cut line and appends whole lines
    (scans / "bad.png").unlink()
    result = run("binarize", scans, tmp_path / "out", "--manifest", manifest, *CLASSICAL)
    assert result.exit_code == 0
    assert len(read_records(manifest)) == 4
    result = run("manifest", tmp_path / "missing.jsonl")
    assert result.exit_code == ExitCode.input_error and len(error_lines(result)) == 1


def test_manifest_and_cluster_need_a_folder(run, tmp_path, make_page):
    source = tmp_path / "page.png"
    source.write_bytes(png_bytes(make_page()))
    for flag, value in (("--manifest", tmp_path / "run.jsonl"), ("--cluster", "local:1")):
        result = run("binarize", source, tmp_path / "out.png", flag, value)
        assert result.exit_code == ExitCode.usage
        assert error_lines(result) == [f"docbin: error: {flag} is for a folder INPUT"]
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "run.jsonl").exists()


# --- the Python API ----------------------------------------------------------------------

def test_binarize_urls(tmp_path, memory, make_page):
    data = {name: png_bytes(make_page(seed=k)) for k, name in enumerate(["a.png", "b.png"])}
    memory.pipe_file("/in/x/a.png", data["a.png"])
    (tmp_path / "b.png").write_bytes(data["b.png"])
    records = batch.binarize_urls(["memory://in/x/a.png", str(tmp_path / "b.png")],
                                  "memory://out", options=Options(method="classical"))
    assert [(item["status"], item["output"]) for item in records] == [
        ("ok", "memory://out/a.png"), ("ok", "memory://out/b.png")]
    for name, encoded in data.items():
        np.testing.assert_array_equal(
            dio.read_image(memory.cat_file(f"/out/{name}")).image, expected(encoded))
    # a tree mirrored under root, a manifest, and the same call again resumes
    manifest = tmp_path / "run.jsonl"
    kwargs = {"root": "memory://in", "options": Options(method="classical"),
              "manifest": manifest}
    records = batch.binarize_urls(["memory://in/x/a.png", "memory://in/missing.png"],
                                  "memory://tree", **kwargs)
    assert [item["status"] for item in records] == ["ok", "failed"]
    assert records[0]["output"] == "memory://tree/x/a.png"
    assert "no such file" in records[1]["error"]
    again = batch.binarize_urls(["memory://in/x/a.png", "memory://in/missing.png"],
                                "memory://tree", **kwargs)
    assert again[0] == records[0]  # done before: the manifest's record, not run again
    assert again[1]["status"] == "failed" and again[1]["run"] != records[1]["run"]


# --- Ctrl-C ------------------------------------------------------------------------------

def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _batch_in_progress(tmp_path, executor, **popen):
    """A batch of 80 pages on two processes, started in its own process group and caught
    once it has recorded 3 pages: (process, command, scans, out, manifest, pages)."""
    from docbin import synth

    scans = tmp_path / "scans"
    scans.mkdir()
    pages = 80  # enough that the batch is still running when it is interrupted
    first_page, _ = synth.degraded_page(600, 450, 0)
    for seed in range(pages):  # the same page under many names: only the count matters
        Image.fromarray(first_page).save(scans / f"page{seed:02d}.png")
    out, manifest = tmp_path / "out", tmp_path / "run.jsonl"
    command = [sys.executable, "-m", "docbin", "binarize", str(scans), str(out), *executor,
               "--manifest", str(manifest), "--quiet", *CLASSICAL]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE,
                               text=True, **popen)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the batch finished before it could be stopped"
    return process, command, scans, out, manifest, pages


@pytest.mark.parametrize("executor", [("--jobs", "2"), ("--cluster", "local:2")])
def test_interrupted_run_leaves_no_partial_output_and_resumes(tmp_path, executor):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) in the middle of a
    batch on two processes: no half-written file anywhere, no traceback; the second run
    writes only the rest."""
    if executor[0] == "--cluster":
        pytest.importorskip("distributed")
    # SIGINT as a terminal has it, even where this test runs in the background (a
    # non-interactive shell starts background jobs with SIGINT ignored, and it is inherited)
    process, command, scans, out, manifest, pages = _batch_in_progress(
        tmp_path, executor, preexec_fn=_default_sigint)
    os.killpg(process.pid, signal.SIGINT)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "run the same command again to resume" in stderr
    first = {item["input"] for item in read_records(manifest)}
    written = sorted(p.name for p in out.iterdir())
    assert all(name.endswith(".png") and not name.startswith(".") for name in written)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    for name in written:  # every output present is complete
        assert dio.read_image(out / name).image.shape == (600, 450)
    assert 3 <= len(first) < pages
    second = subprocess.run(command[:-1] + ["classical"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert second.returncode == 0, second.stderr
    records = read_records(manifest)
    latest = [item for item in records if item["run"] == records[-1]["run"]]
    assert {item["input"] for item in latest} == {str(p) for p in scans.iterdir()} - first
    # written now: exactly the outputs that were missing; a page finished by a worker but
    # not yet recorded when the run stopped is kept (skipped), not written again
    now = {Path(item["output"]).name for item in latest if item["status"] == "ok"}
    kept = {Path(item["output"]).name for item in latest if item["status"] == "skipped"}
    assert now.isdisjoint(written) and kept <= set(written)
    assert len(now) + len(kept) == len(latest) and now
    assert len(list(out.iterdir())) == pages


@pytest.mark.parametrize("to_group", [False, True])
def test_sigterm_stops_a_batch_like_ctrl_c(tmp_path, to_group):
    """SIGTERM (``kill PID``, or to the whole process group as service managers send it)
    in the middle of a batch on two processes: exit 143 with the resume hint, no
    traceback, no multiprocessing warning about leaked semaphores, no half-written file,
    and no process of the batch left running."""
    process, _, _, out, _, _ = _batch_in_progress(tmp_path, ("--jobs", "2"))
    if to_group:
        os.killpg(process.pid, signal.SIGTERM)
    else:
        process.send_signal(signal.SIGTERM)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "leaked" not in stderr, stderr
    assert "resume" in stderr
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    for path in out.iterdir():
        assert dio.read_image(path).image.shape == (600, 450)
    deadline = time.monotonic() + 20  # the pool's worker and resource tracker exit too
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the stopped batch are still running")
