"""Hostile command lines and resumes: each case failed before its fix."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from docbin.batch.manifest import read_records, summarise
from docbin.errors import ExitCode, SetupError


def write_pages(folder: Path, make_page, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        Image.fromarray(make_page(seed=k)).save(folder / f"p{k}.png")
    return folder


def test_resume_redoes_a_deleted_or_truncated_output(run, tmp_path, make_page):
    scans = write_pages(tmp_path / "scans", make_page)
    out, manifest = tmp_path / "out", tmp_path / "run.jsonl"
    assert run("binarize", scans, out, "--manifest", manifest, "-j", "1").exit_code == 0
    good = (out / "p1.png").read_bytes()
    (out / "p0.png").unlink()
    (out / "p1.png").write_bytes(good[:20])
    again = run("binarize", scans, out, "--manifest", manifest, "-j", "1")
    assert again.exit_code == 0, again.stderr
    assert "2 page(s) written" in again.stderr
    assert (out / "p0.png").exists() and (out / "p1.png").read_bytes() == good


def test_manifest_keys_files_by_their_resolved_path(run, tmp_path, make_page, monkeypatch):
    scans = write_pages(tmp_path / "scans", make_page)
    out, manifest = tmp_path / "out", tmp_path / "run.jsonl"
    monkeypatch.chdir(tmp_path)
    assert run("binarize", "scans", "out", "--manifest", manifest, "-j", "1").exit_code == 0
    again = run("binarize", scans.resolve(), out.resolve(), "--manifest", manifest, "-j", "1")
    assert again.exit_code == 0
    assert "0 page(s) written" in again.stderr and "3 file(s) done before" in again.stderr
    assert summarise(read_records(manifest), 0).pages == 3


def test_an_empty_input_or_output_is_a_usage_error(run, tmp_path, make_page, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_pages(tmp_path, make_page, 1)
    for args in (("", "o/e.png"), ("p0.png", "")):
        result = run("binarize", *args)
        assert result.exit_code == ExitCode.usage
        assert result.stderr.strip().startswith("docbin: error:")
    assert not (tmp_path / "o").exists()


def test_options_that_would_do_nothing_or_crash_are_refused(run, tmp_path, make_page):
    source = write_pages(tmp_path, make_page, 1) / "p0.png"
    for extra in (("--balance", "0.3"), ("--model", tmp_path / "n.onnx"),
                  ("--steps", "refine"), ("--max-megapixels", "nan"), ("--dpi", "1e30")):
        result = run("binarize", source, tmp_path / "x.png", *extra)
        assert result.exit_code == ExitCode.usage, (extra, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "x.png").exists()


def test_a_float_tiff_error_names_the_file(run, tmp_path):
    source = tmp_path / "float.tif"
    Image.fromarray(np.arange(400, dtype=np.float32).reshape(20, 20) / 100).save(source)
    result = run("binarize", source, tmp_path / "x.png")
    assert result.exit_code == ExitCode.input_error
    assert result.stderr.startswith(f"docbin: error: {source}: ")


def test_an_output_with_a_trailing_slash_is_a_folder(run, tmp_path, make_page):
    source = write_pages(tmp_path / "in", make_page, 1) / "p0.png"
    result = run("binarize", source, str(tmp_path / "new") + os.sep)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "new" / "p0.png").exists()


def test_a_page_name_of_a_multi_page_tiff_that_collides_is_reported(run, tmp_path, make_page):
    scans = tmp_path / "scans"
    scans.mkdir()
    frames = [Image.fromarray(make_page(seed=s)) for s in (1, 2)]
    frames[0].save(scans / "book.tif", save_all=True, append_images=frames[1:])
    Image.fromarray(make_page(seed=3)).save(scans / "book-p2.png")
    Image.fromarray(make_page(seed=4)).save(scans / "book-p3.png")  # no page 3: no clash
    result = run("binarize", scans, tmp_path / "out")
    assert result.exit_code == ExitCode.failed_pages
    failed = [line for line in result.stderr.splitlines() if line.startswith("docbin: failed")]
    assert len(failed) == 1 and "book-p2.png" in failed[0] and "page 2 of" in failed[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "book-p1.png", "book-p2.png", "book-p3.png"]


# --- --cluster at something that is not (or not yet) a usable Dask scheduler -------------------

def _serve(handler) -> tuple[str, object]:
    """A TCP server on a free local port whose connections ``handler(sock)`` serves."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def loop():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}", server


def _silent(conn) -> None:  # accepts, reads, never answers (an HTTP server's behaviour)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def _banner(conn) -> None:  # answers with a text banner, then hangs up
    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" * 4)
    conn.close()


@pytest.mark.parametrize("handler", [_silent, _banner], ids=["silent", "banner"])
def test_a_server_that_is_not_a_scheduler_is_one_line_and_leaves_nothing(
        run, tmp_path, make_page, handler):
    pytest.importorskip("distributed")
    address, server = _serve(handler)
    scans = write_pages(tmp_path / "scans", make_page, 1)
    out, manifest = tmp_path / "out", tmp_path / "run.jsonl"
    start = time.monotonic()
    try:
        result = run("binarize", scans, out, "--cluster", address, "--cluster-timeout", "2",
                     "--manifest", manifest)
    finally:
        server.close()
    assert time.monotonic() - start < 30
    assert result.exit_code == ExitCode.usage, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"docbin: error: --cluster {address}")
    assert "pip install" not in lines[0]
    assert not out.exists() and not manifest.exists()


def test_a_scheduler_without_workers_is_reported_and_given_up(monkeypatch):
    from docbin.batch import cluster as cluster_module

    class NoWorkers:  # a scheduler's client that never sees a worker join
        def scheduler_info(self):
            return {"workers": {}}

    monkeypatch.setattr(cluster_module, "WORKERS_NOTICE", 0.2)
    notices = []
    executor = cluster_module.DaskExecutor(NoWorkers())
    start = time.monotonic()
    with pytest.raises(SetupError, match="no worker after 0.8 s"):
        executor.wait_for_workers(0.8, notice=notices.append)
    assert 0.7 < time.monotonic() - start < 5
    assert len(notices) == 1 and "no worker yet" in notices[0]

    class LateWorker(NoWorkers):  # a worker joins after a while: the wait ends
        calls = 0

        def scheduler_info(self):
            self.calls += 1
            return {"workers": {"tcp://w": {}} if self.calls > 3 else {}}

    cluster_module.DaskExecutor(LateWorker()).wait_for_workers(5.0)


def test_a_dangling_link_in_a_folder_is_reported(run, tmp_path, make_page):
    scans = write_pages(tmp_path / "scans", make_page, 1)
    (scans / "gone.png").symlink_to(tmp_path / "nowhere.png")
    result = run("binarize", scans, tmp_path / "out")
    assert result.exit_code == ExitCode.failed_pages
    failed = [line for line in result.stderr.splitlines() if line.startswith("docbin: failed")]
    assert len(failed) == 1 and "gone.png" in failed[0]
    assert (tmp_path / "out" / "p0.png").exists()


def test_a_manifest_with_records_without_a_run_is_read():
    """Found by fuzz/fuzz_manifest.py: records without a ``run`` field broke resume."""
    from docbin.batch.manifest import completed, latest

    crash = Path(__file__).parent / "fuzz_crashes" / "manifest-without-run.jsonl"
    records = read_records(crash)
    assert records and all(item["run"] is None for item in records)
    assert sum(len(items) for items in latest(records).values()) == len(records)
    completed(records)
    summarise(records, 3)
