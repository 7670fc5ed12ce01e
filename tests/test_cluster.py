"""The Dask executor on a real LocalCluster: the same outputs as --jobs, bad pages, workers
killed in the middle of a batch, an unreachable scheduler, the Python API with a client."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from docbin import batch
from docbin import io as dio
from docbin.batch.manifest import read_records
from docbin.cli import common as cli_common
from docbin.errors import ExitCode
from docbin.options import Options

distributed = pytest.importorskip("distributed")
pytest.importorskip("fsspec")

import faulty_storage

CLASSICAL = ("--method", "classical")


@pytest.fixture(scope="module")
def client():
    """Two one-thread worker processes, set up as docbin sets up ``--cluster local:N``."""
    import dask

    from docbin.batch.cluster import ALLOWED_FAILURES

    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                          "distributed.scheduler.worker-saturation": 1.0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                           processes=True, dashboard_address=":0",
                                           silence_logs=logging.CRITICAL)
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def workers(client):
    """The scheduler address, with both workers up (a test may have killed some)."""
    client.wait_for_workers(2, timeout=60)
    return client.scheduler.address


def png_bytes(page: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, format="PNG")
    return buffer.getvalue()


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def outputs(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cluster_gives_the_outputs_of_jobs_and_records_bad_pages(run, workers, client,
                                                                 tmp_path, make_page):
    faulty_storage.register()
    scans = tmp_path / "scans"
    (scans / "sub").mkdir(parents=True)
    for k in range(3):
        (scans / f"p{k}.png").write_bytes(png_bytes(make_page(seed=k)))
    (scans / "sub" / "c.png").write_bytes(png_bytes(make_page(seed=5)))
    frames = [Image.fromarray(make_page(seed=s)) for s in (3, 4)]
    frames[0].save(scans / "book.tif", save_all=True, append_images=frames[1:])
    (scans / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (scans / "zero.png").write_bytes(b"")
    (scans / "large.png").write_bytes(png_bytes(make_page(400, 400)))
    (scans / "unreadable.png").write_bytes(png_bytes(make_page(seed=9)))
    common = ("-r", "--explain", "--max-megapixels", "0.1", "--method", "hybrid")
    reference = run("binarize", f"faulty://{scans}", tmp_path / "jobs", "--jobs", "1", *common)
    manifest = tmp_path / "run.jsonl"
    result = run("binarize", f"faulty://{scans}", tmp_path / "cluster", "--cluster", workers,
                 "--manifest", manifest, *common)
    assert result.exit_code == reference.exit_code == ExitCode.failed_pages, result.output
    assert "docbin: Dask dashboard at http" in result.stderr
    failed = sorted(line for line in error_lines(result) if line.startswith("docbin: failed"))
    assert failed == sorted(line for line in error_lines(reference)
                            if line.startswith("docbin: failed"))
    assert len(failed) == 4 and "Traceback" not in result.stderr
    assert error_lines(result)[-1] == "docbin: 6 page(s) written, 0 skipped, 4 file(s) failed"
    produced = outputs(tmp_path / "cluster")
    assert sorted(produced) == sorted(outputs(tmp_path / "jobs"))
    for name, data in outputs(tmp_path / "jobs").items():
        if name.endswith(".png"):  # the sidecars hold timings
            assert produced[name] == data, name
    records = read_records(manifest)
    assert len(records) == 10
    assert {item["worker"] for item in records if item["status"] == "ok"} <= \
        set(client.scheduler_info()["workers"])
    reasons = {Path(item["input"]).name: item["error"] for item in records
               if item["status"] == "failed"}
    assert "Permission denied" in reasons["unreadable.png"]
    assert "empty" in reasons["zero.png"] and "--max-megapixels" in reasons["large.png"]
    # each worker that binarized a page loaded the network's session once, and kept it
    from docbin.method import refine

    sessions = client.run(lambda: len(refine._cache))
    assert set(sessions.values()) <= {0, 1} and 1 in sessions.values()


def test_a_killed_worker_loses_no_page(run, workers, tmp_path, make_page):
    """A worker killed while binarizing a page: the page is run again on another worker.
    A page that kills its worker every time is failed after the second death."""
    faulty_storage.register()
    scans = tmp_path / "scans"
    scans.mkdir()
    pages = {f"p{k}.png": make_page(seed=k) for k in range(6)}
    pages["kill-once.png"] = make_page(seed=7)
    pages["kill-always.png"] = make_page(seed=8)
    for name, page in pages.items():
        (scans / name).write_bytes(png_bytes(page))
    out, manifest = tmp_path / "out", tmp_path / "run.jsonl"
    result = run("binarize", f"faulty://{scans}", out, "--cluster", workers, "--manifest",
                 manifest, *CLASSICAL)
    assert result.exit_code == ExitCode.failed_pages, result.output
    assert (scans / "kill-once.png.killed").read_text() == "x"  # it did kill a worker once
    assert (scans / "kill-always.png.killed").read_text() == "xx"  # and this one twice
    records = read_records(manifest)
    assert sorted(Path(item["input"]).name for item in records) == sorted(pages)  # once each
    status = {Path(item["input"]).name: item["status"] for item in records}
    assert status.pop("kill-always.png") == "failed"
    assert set(status.values()) == {"ok"}
    failure = next(item for item in records if item["status"] == "failed")
    assert failure["error"] == (f"faulty://{scans}/kill-always.png: the Dask worker "
                                "binarizing it died on every try (out of memory?)")
    assert sorted(p.name for p in out.iterdir()) == sorted(status)
    for name in status:  # each page as one process binarizes it
        reference = run("binarize", scans / name, tmp_path / "ref.png", "--overwrite",
                        *CLASSICAL)
        assert reference.exit_code == 0
        assert (out / name).read_bytes() == (tmp_path / "ref.png").read_bytes(), name


def test_local_cluster_from_the_command_line(run, tmp_path, make_page):
    scans = tmp_path / "scans"
    scans.mkdir()
    for k in range(4):
        (scans / f"p{k}.png").write_bytes(png_bytes(make_page(seed=k)))
    result = run("binarize", scans, tmp_path / "out", "--cluster", "local:2", *CLASSICAL)
    assert result.exit_code == 0, result.output
    lines = error_lines(result)
    assert lines[0].startswith("docbin: Dask dashboard at http")
    assert lines[-1] == "docbin: 4 page(s) written, 0 skipped, 0 file(s) failed"
    reference = run("binarize", scans, tmp_path / "ref", "--jobs", "1", *CLASSICAL)
    assert reference.exit_code == 0
    assert outputs(tmp_path / "out") == outputs(tmp_path / "ref")


def test_progress_bar_across_the_cluster(run, workers, tmp_path, make_page, monkeypatch):
    monkeypatch.setattr(cli_common, "stderr_is_terminal", lambda: True)
    (tmp_path / "scans").mkdir()
    for k in range(3):
        (tmp_path / "scans" / f"p{k}.png").write_bytes(png_bytes(make_page(seed=k)))
    result = run("binarize", tmp_path / "scans", tmp_path / "out", "--cluster", workers,
                 *CLASSICAL)
    assert result.exit_code == 0
    assert "binarizing" in result.stderr and "3/3" in result.stderr
    assert "3 page(s) written" in result.stderr


def test_unreachable_scheduler_is_a_usage_error(run, tmp_path, make_page, monkeypatch):
    import socket


    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "p.png").write_bytes(png_bytes(make_page()))
    result = run("binarize", tmp_path / "scans", tmp_path / "out", "--cluster",
                 f"tcp://127.0.0.1:{port}", "--cluster-timeout", "1")
    assert result.exit_code == ExitCode.usage
    lines = error_lines(result)
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0]
    # Dask is installed here: the message is about the address, not about installing
    assert f"tcp://127.0.0.1:{port}" in lines[0] and "pip install" not in lines[0]
    assert not (tmp_path / "out").exists()
    result = run("binarize", tmp_path / "scans", tmp_path / "out", "--cluster", "nowhere")
    assert result.exit_code == ExitCode.usage and len(error_lines(result)) == 1
    assert not (tmp_path / "out" / "p.png").exists()


def test_memory_storage_is_refused_on_worker_processes(run, workers, tmp_path, make_page):
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe_file("/cluster-scans/p.png", png_bytes(make_page()))
    try:
        result = run("binarize", "memory://cluster-scans", tmp_path / "out", "--cluster",
                     workers)
    finally:
        fs.rm("/cluster-scans", recursive=True)
    assert result.exit_code == ExitCode.usage
    errors = [line for line in error_lines(result) if line.startswith("docbin: error")]
    assert len(errors) == 1 and "Dask workers cannot see it" in errors[0]


def test_binarize_urls_with_a_client(client, workers, tmp_path, make_page):
    pages = [make_page(seed=k) for k in range(3)]
    for k, page in enumerate(pages):
        (tmp_path / f"p{k}.png").write_bytes(png_bytes(page))
    records = batch.binarize_urls([str(tmp_path / f"p{k}.png") for k in range(3)],
                                  str(tmp_path / "out"), client=client,
                                  options=Options(method="classical"))
    assert sorted(item["output"] for item in records) == [
        str(tmp_path / "out" / f"p{k}.png") for k in range(3)]
    assert all(item["status"] == "ok" and item["worker"].startswith("tcp://")
               for item in records)
    import docbin

    for k, page in enumerate(pages):
        np.testing.assert_array_equal(dio.read_image(tmp_path / "out" / f"p{k}.png").image,
                                      docbin.binarize(page, "classical").image)
    assert client.status == "running"  # the caller's client is left open
