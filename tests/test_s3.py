"""docbin against a real S3-compatible server: moto's server on a local port, reached through
s3fs as any S3 endpoint would be (AWS_ENDPOINT_URL). Buckets are set up and inspected with
boto3. Covers a folder tree in a bucket, the manifest and resume, a server that stops while
a batch writes, and credentials that are wrong or missing."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from conftest import require_module
from PIL import Image

from docbin import io as dio
from docbin.batch.manifest import read_records
from docbin.errors import ExitCode

moto_server = require_module("moto.server", "dev")
s3fs = require_module("s3fs", "dev")
boto3 = require_module("boto3", "dev")

CLASSICAL = ("--method", "classical")
BUCKET = "archive"
#: relative name → (seed, format) of the pages of a small folder tree
TREE = {"a.png": (0, "PNG"), "sub/b.png": (1, "PNG"), "sub/deeper/c.tif": (2, "TIFF")}


class Store:
    """The running moto server, its endpoint, and a boto3 client on it."""

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch = monkeypatch
        self.server = None
        self.start()

    def start(self) -> None:
        """Start a server (on a new free port; moto keeps the buckets in this process,
        so what was stored before is there again) and point docbin and boto3 at it."""
        self.server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0,
                                                     verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.monkeypatch.setenv("AWS_ENDPOINT_URL", self.endpoint)
        s3fs.S3FileSystem.clear_instance_cache()  # fsspec would reuse the old endpoint
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                                   aws_access_key_id="testing",
                                   aws_secret_access_key="testing")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def keys(self, prefix: str) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 server with an empty bucket ``archive``, for the test only."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1",
                        # nothing from the machine: no ~/.aws files, no instance metadata
                        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
                        "AWS_EC2_METADATA_DISABLED": "true",
                        # a stopped server is given up quickly
                        "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(name, value)
    store = Store(monkeypatch)
    store.client.create_bucket(Bucket=BUCKET)
    try:
        yield store
    finally:
        if store.server is None:
            store.start()
        import requests

        requests.post(f"{store.endpoint}/moto-api/reset", timeout=10)  # buckets are global
        store.stop()
        s3fs.S3FileSystem.clear_instance_cache()


def encoded(page: np.ndarray, format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, format=format)
    return buffer.getvalue()


def put_tree(store: Store, make_page, prefix: str, local=None) -> None:
    """The pages of TREE under ``prefix`` in the bucket (and under ``local`` on disk)."""
    for name, (seed, format) in TREE.items():
        data = encoded(make_page(seed=seed), format)
        store.put(f"{prefix}/{name}", data)
        if local is not None:
            (local / name).parent.mkdir(parents=True, exist_ok=True)
            (local / name).write_bytes(data)


def outputs(prefix: str) -> list[str]:
    return sorted(f"{prefix}/{name.rsplit('.', 1)[0]}.png" for name in TREE)


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def puts(monkeypatch):
    """The paths s3fs puts objects to, in order (docbin's single put per output)."""
    done = []
    original = s3fs.S3FileSystem._pipe_file

    async def counted(self, path, data, *args, **kwargs):
        done.append(path)
        return await original(self, path, data, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_pipe_file", counted)
    return done


def test_folder_tree_in_a_bucket_is_binarized_as_on_disk(s3, run, make_page, tmp_path):
    """A folder tree read from and written to a bucket, pages in worker processes too
    (-j 2): the same bytes as the same tree binarized on disk."""
    put_tree(s3, make_page, "scans", local=tmp_path / "scans")
    s3.put("scans/notes.txt", b"not an image")
    s3.put("elsewhere/x.png", encoded(make_page(seed=5), "PNG"))  # beside, not inside
    result = run("binarize", f"s3://{BUCKET}/scans/", f"s3://{BUCKET}/clean/", "-r", "-j", "2",
                 *CLASSICAL)
    assert result.exit_code == 0, result.output
    assert error_lines(result) == ["docbin: 3 page(s) written, 0 skipped, 0 file(s) failed"]
    assert s3.keys("clean/") == outputs("clean")
    assert run("binarize", tmp_path / "scans", tmp_path / "clean", "-r",
               *CLASSICAL).exit_code == 0
    for key in outputs("clean"):
        local = (tmp_path / key).read_bytes()
        assert s3.get(key) == local, key
        image = dio.read_image(local).image
        assert image.min() == 0 and image.max() == 255  # text and background, not blank


def test_manifest_and_resume(s3, run, make_page, tmp_path, puts):
    """The manifest records each object and its size; a rerun writes nothing; a deleted or
    truncated output object is made again, and only it."""
    put_tree(s3, make_page, "scans")
    manifest = tmp_path / "run.jsonl"
    command = ("binarize", f"s3://{BUCKET}/scans/", f"s3://{BUCKET}/clean/", "-r", "-j", "1",
               "--manifest", manifest, *CLASSICAL)
    assert run(*command).exit_code == 0
    records = read_records(manifest)
    assert sorted(record["output"] for record in records) == \
        [f"s3://{BUCKET}/{key}" for key in outputs("clean")]
    for record in records:
        assert record["status"] == "ok"
        assert record["input"].startswith(f"s3://{BUCKET}/scans/")
        key = record["output"].removeprefix(f"s3://{BUCKET}/")
        assert record["bytes"] == len(s3.get(key)) > 0
    first = {key: s3.get(key) for key in outputs("clean")}
    assert len(puts) == 3

    puts.clear()
    result = run(*command)
    assert result.exit_code == 0, result.output
    assert "0 page(s) written" in result.stderr and "3 file(s) done before" in result.stderr
    assert puts == []

    s3.client.delete_object(Bucket=BUCKET, Key="clean/sub/b.png")
    s3.put("clean/a.png", first["clean/a.png"][:40])  # cut short: another size
    result = run(*command)
    assert result.exit_code == 0, result.output
    assert "2 page(s) written" in result.stderr
    assert sorted(puts) == [f"{BUCKET}/clean/a.png", f"{BUCKET}/clean/sub/b.png"]
    assert {key: s3.get(key) for key in outputs("clean")} == first


def test_server_stopping_during_a_batch_leaves_no_partial_object(s3, run, make_page,
                                                                 tmp_path, monkeypatch):
    """The server stops as the second output is put: that file and the next fail with one
    line each (no traceback), the first output is whole, nothing else is under clean/; the
    same command on a server again makes the rest."""
    put_tree(s3, make_page, "scans", local=tmp_path / "scans")
    original = s3fs.S3FileSystem._pipe_file

    async def stop_then_put(self, path, data, *args, **kwargs):
        if path.endswith("/clean/sub/b.png"):
            s3.stop()
        return await original(self, path, data, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_pipe_file", stop_then_put)
    manifest = tmp_path / "run.jsonl"
    command = ("binarize", f"s3://{BUCKET}/scans/", f"s3://{BUCKET}/clean/", "-r", "-j", "1",
               "--manifest", manifest, *CLASSICAL)
    result = run(*command)
    assert result.exit_code == ExitCode.failed_pages, result.output
    lines = error_lines(result)
    assert "Traceback" not in result.output
    assert all(line.startswith("docbin: ") and len(line) < 400 for line in lines), lines
    assert any(line.startswith(f"docbin: failed: cannot write s3://{BUCKET}/clean/sub/b.png")
               for line in lines), lines
    assert lines[-1] == "docbin: 1 page(s) written, 0 skipped, 2 file(s) failed"
    assert [record["status"] for record in read_records(manifest)] == ["ok", "failed",
                                                                       "failed"]

    s3.start()  # the same buckets, on a new port
    assert s3.keys("clean/") == ["clean/a.png"]
    shutil.copytree(tmp_path / "scans", tmp_path / "local")
    assert run("binarize", tmp_path / "local", tmp_path / "clean", "-r",
               *CLASSICAL).exit_code == 0
    assert s3.get("clean/a.png") == (tmp_path / "clean/a.png").read_bytes()
    monkeypatch.setattr(s3fs.S3FileSystem, "_pipe_file", original)
    result = run(*command)
    assert result.exit_code == 0, result.output
    assert "2 page(s) written" in result.stderr and "1 file(s) done before" in result.stderr
    for key in outputs("clean"):
        assert s3.get(key) == (tmp_path / key).read_bytes(), key


def check_credentials(monkeypatch) -> None:
    """The server checks credentials from now on (until the test ends): keys it did not
    issue are refused. Requests made before (the bucket, its pages) were not checked."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)


@pytest.mark.parametrize("where", ["input folder", "input file", "output folder"])
def test_rejected_credentials_are_one_line_and_exit_2(s3, run, make_page, tmp_path,
                                                      monkeypatch, where, puts):
    """A key the store does not know, met when listing the input, reading one input file or
    checking the output folder: one line, exit 2, nothing written."""
    s3.put("scans/a.png", encoded(make_page(), "PNG"))
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans/a.png").write_bytes(encoded(make_page(), "PNG"))
    check_credentials(monkeypatch)  # the test's key, "testing", was never issued
    source, target = {
        "input folder": (f"s3://{BUCKET}/scans/", tmp_path / "out"),
        "input file": (f"s3://{BUCKET}/scans/a.png", tmp_path / "out.png"),
        "output folder": (tmp_path / "scans", f"s3://{BUCKET}/clean/"),
    }[where]
    result = run("binarize", source, target, *CLASSICAL, "-j", "1")
    assert result.exit_code == ExitCode.usage, result.output
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("docbin: error: s3://archive/") and "AWS_ACCESS_KEY_ID" in lines[0]
    # the store's reason is kept (a HEAD request's refusal has only its status)
    assert ("does not exist in our records" in lines[0]
            or "refuses access (Forbidden)" in lines[0]), lines
    assert puts == []
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.png").exists()


def test_a_refused_put_stops_the_batch_in_one_line(s3, run, make_page, tmp_path,
                                                   monkeypatch, puts):
    """Credentials that may read the bucket but not write to it: the first put is refused
    and the batch stops there (every page would meet it), one line, exit 2."""
    iam = boto3.client("iam", endpoint_url=s3.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                      {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    check_credentials(monkeypatch)
    (tmp_path / "scans").mkdir()
    for seed in range(3):
        (tmp_path / f"scans/{seed}.png").write_bytes(encoded(make_page(seed=seed), "PNG"))
    result = run("binarize", tmp_path / "scans", f"s3://{BUCKET}/clean/", "-j", "1",
                 *CLASSICAL)
    assert result.exit_code == ExitCode.usage, result.output
    lines = error_lines(result)
    assert lines == [(f"docbin: error: s3://{BUCKET}/clean/0.png: the storage refuses access "
                      "(Access Denied); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                      "the scheme's own settings) and the bucket's permissions")], lines
    assert puts == [f"{BUCKET}/clean/0.png"]  # tried once, then the batch stopped


def test_missing_credentials_and_bucket(s3, run, make_page, tmp_path, monkeypatch):
    """No credentials anywhere: one line, exit 2. A bucket that does not exist: one line,
    exit 3 (an input that is not there)."""
    s3.put("scans/a.png", encoded(make_page(), "PNG"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    s3fs.S3FileSystem.clear_instance_cache()
    result = run("binarize", f"s3://{BUCKET}/scans/", tmp_path / "out", *CLASSICAL)
    assert result.exit_code == ExitCode.usage, result.output
    lines = error_lines(result)
    assert len(lines) == 1 and "Unable to locate credentials" in lines[0], lines

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3fs.S3FileSystem.clear_instance_cache()
    result = run("binarize", "s3://no-such-bucket/scans/", tmp_path / "out", *CLASSICAL)
    assert result.exit_code == ExitCode.input_error, result.output
    assert error_lines(result) == ["docbin: error: s3://no-such-bucket/scans: no such file"]
    assert not (tmp_path / "out").exists()
