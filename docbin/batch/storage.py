"""Where pages are read and written: a local path, or an fsspec URL.

:func:`location` turns what the user typed into a :class:`LocalLocation` (a plain path, or
``file://``) or a :class:`RemoteLocation` (any other ``scheme://``, through fsspec and the
backend package of the scheme: ``s3fs`` for ``s3://``, ``gcsfs`` for ``gs://``, ``adlfs``
for ``az://``; ``memory://`` is built in). Both have the same small interface, so the batch
runner and the single-file path never ask which one they hold.

Writes are atomic on every backend, so an output is complete or absent:

- local files: a temporary file in the destination folder, renamed over the destination
  (:func:`docbin.io.write_bytes`);
- object stores (``s3``, ``gs``, ``az``, ``memory``, ...): one put of the whole object,
  which the store makes visible only once complete;
- other fsspec file systems (``sftp``, ``hdfs``, ...): a temporary name, then a move.

Errors of the backend become docbin errors with a one-line message: credentials that are
missing or that the store rejects, and access it refuses (except reading one object), are a
:class:`~docbin.errors.SetupError` (every file would meet them); other failures an input or
output error of the file.

fsspec is imported only when a URL is used (the ``cluster`` extra).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from docbin.errors import DocbinError, InputError, OutputError, SetupError
from docbin.io import count_pages, read_pages, write_bytes

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
#: Backends whose single put is atomic (the object appears whole or not at all).
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss",
                            "memory"})
#: Backends that live in one process: worker processes cannot see their files.
_PROCESS_LOCAL = frozenset({"memory"})
_BACKENDS = "s3fs for s3://, gcsfs for gs://, adlfs for az://"
EXTRA_HINT = 'pip install "docbin[cluster]"'


def is_url(text: str) -> bool:
    """True when ``text`` starts with ``scheme://``."""
    return _URL.match(str(text)) is not None


def canonical(text: str) -> str:
    """The name a manifest keys a file by: a local path made absolute with its links
    resolved (``scans/a.png``, ``./scans/a.png`` and ``/home/me/scans/a.png`` are one file);
    a URL as it is."""
    text = str(text)
    if is_url(text) or text.startswith("<"):  # a URL, or <stdin>
        return text
    return os.path.realpath(text)


def location(text: str | os.PathLike) -> LocalLocation | RemoteLocation:
    """The location named by ``text``: a local path or an fsspec URL.

    Raises
    ------
    SetupError
        The scheme is unknown, or fsspec or the scheme's backend is not installed. The
        message names what to install.
    """
    if isinstance(text, (LocalLocation, RemoteLocation)):
        return text
    text = os.fspath(text)
    match = _URL.match(text)
    if match is None:
        return LocalLocation(Path(text))
    scheme = match.group(1).lower()
    if scheme in ("file", "local"):
        return LocalLocation(Path(text[match.end():]))
    try:
        import fsspec.core
    except ImportError:
        raise SetupError(f"{text}: reading and writing {scheme}:// URLs needs fsspec: "
                         f"{EXTRA_HINT}") from None
    try:
        fs, path = fsspec.core.url_to_fs(text)
    except ImportError as error:
        raise SetupError(f"{text}: the {scheme}:// backend is not installed ({_line(error)}); "
                         f"{EXTRA_HINT} and the backend of the scheme ({_BACKENDS})") from None
    except ValueError as error:
        if "protocol" in str(error).lower():
            raise SetupError(f"{text}: unknown storage scheme {scheme}://; docbin reads URLs "
                             f"through fsspec ({EXTRA_HINT}) and the backend of the scheme "
                             f"({_BACKENDS})") from None
        raise SetupError(f"{text}: {_line(error)}") from None
    return RemoteLocation(fs, path.rstrip("/") or path, text.rstrip("/") or text, scheme)


def _line(error: BaseException) -> str:
    return " ".join((str(error) or error.__class__.__name__).split())


#: Error codes of S3-compatible stores that mean the credentials themselves are wrong.
_CREDENTIAL_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                               "InvalidToken", "TokenRefreshRequired", "InvalidClientTokenId",
                               "AuthorizationHeaderMalformed"})
#: Error codes of a refused access: the credentials may be valid but not for this bucket
#: (a HEAD request has no body, so its refusals carry only the status, 403).
_DENIED_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem", "403"})
#: botocore's errors for credentials that are absent or unusable (no request was sent).
_CREDENTIAL_ERRORS = frozenset({"NoCredentialsError", "PartialCredentialsError",
                                "CredentialRetrievalError", "NoAuthTokenError"})


def _storage_errors() -> tuple[type[BaseException], ...]:
    """What a backend raises: OSError and ValueError, and botocore's own errors (no
    credentials, endpoint unreachable), which s3fs passes on untranslated. botocore is
    looked up, not imported: it is loaded when an s3:// file system exists."""
    botocore = sys.modules.get("botocore.exceptions")
    extra = (botocore.BotoCoreError, botocore.ClientError) if botocore is not None else ()
    return (OSError, ValueError, *extra)


def _failure(error: BaseException, label: object, message: str,
             kind: type[DocbinError], denied_is_setup: bool = True) -> DocbinError:
    """The docbin error for ``error``, raised by the backend while working on ``label``.

    Credentials that are missing or rejected give a :class:`SetupError` naming ``label``,
    and so does a refused access when ``denied_is_setup``; anything else
    ``kind(message + the error's text)``.
    """
    response = getattr(error.__cause__, "response", None) or getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    hint = ("check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the scheme's own "
            "settings)")
    if code in _CREDENTIAL_CODES or type(error).__name__ in _CREDENTIAL_ERRORS:
        return SetupError(f"{label}: the storage does not accept the credentials "
                          f"({_line(error)}); {hint}")
    if code in _DENIED_CODES and denied_is_setup:
        return SetupError(f"{label}: the storage refuses access ({_line(error)}); {hint} "
                          "and the bucket's permissions")
    return kind(f"{message}{_line(error)}")


@dataclass(frozen=True)
class LocalLocation:
    """A path on a local (or shared, mounted) file system."""

    path: Path

    is_local = True
    shared = True  # another process on this machine (or the cluster's mount) sees it

    def __str__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def suffix(self) -> str:
        return self.path.suffix

    @property
    def parent(self) -> LocalLocation:
        return LocalLocation(self.path.parent)

    def child(self, relative: str) -> LocalLocation:
        return LocalLocation(self.path / relative)

    def with_name(self, name: str) -> LocalLocation:
        return LocalLocation(self.path.with_name(name))

    def exists(self) -> bool:
        return self.path.exists()

    def size(self) -> int | None:
        """Bytes of the file, or None when it does not exist."""
        try:
            return self.path.stat().st_size
        except OSError:
            return None

    def is_dir(self) -> bool:
        return self.path.is_dir()

    def contains(self, other: LocalLocation | RemoteLocation) -> bool:
        """True when ``other`` is this folder or lies inside it."""
        if not isinstance(other, LocalLocation):
            return False
        mine = self.path.resolve()
        theirs = other.path.resolve()
        return mine == theirs or mine in theirs.parents

    def same_file(self, other: LocalLocation | RemoteLocation) -> bool:
        if not isinstance(other, LocalLocation):
            return False
        return self.path.exists() and other.path.exists() and \
            os.path.samefile(self.path, other.path)

    def page_count(self) -> int:
        """Pages of the image file here (its header only)."""
        return count_pages(self.path)

    def read_pages(self, max_megapixels: float, label: str):

        return read_pages(self.path, max_megapixels, name=label)

    def write_bytes(self, data: bytes, overwrite: bool) -> None:

        write_bytes(self.path, data, overwrite=overwrite)

    def make_folder(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"cannot create the folder {self.path}: "
                              f"{error.strerror or error}") from error

    def list_files(self, recursive: bool) -> list[tuple[LocalLocation, str]]:
        """Files in this folder (or its tree) as (location, relative posix path); a link
        whose target is missing is listed too, so that the batch reports it instead of
        passing over it."""
        found = []
        for path in (self.path.rglob("*") if recursive else self.path.iterdir()):
            if path.is_file() or (path.is_symlink() and not path.exists()):
                found.append((LocalLocation(path), path.relative_to(self.path).as_posix()))
        return found


@dataclass(frozen=True)
class RemoteLocation:
    """A file or folder behind an fsspec file system (object storage, memory, ...).

    ``url`` is what messages show (built from what the user typed); ``path`` is the
    file system's own path.
    """

    fs: object
    path: str
    url: str
    scheme: str

    is_local = False

    @property
    def shared(self) -> bool:
        return self.scheme not in _PROCESS_LOCAL

    def __str__(self) -> str:
        return self.url

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def stem(self) -> str:
        return PurePosixPath(self.path).stem

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix

    @property
    def parent(self) -> RemoteLocation:
        return RemoteLocation(self.fs, self.path.rpartition("/")[0],
                              self.url.rpartition("/")[0], self.scheme)

    def child(self, relative: str) -> RemoteLocation:
        relative = relative.strip("/")
        return RemoteLocation(self.fs, f"{self.path.rstrip('/')}/{relative}",
                              f"{self.url.rstrip('/')}/{relative}", self.scheme)

    def with_name(self, name: str) -> RemoteLocation:
        return self.parent.child(name)

    def exists(self) -> bool:
        self._forget()
        return self._ask(self.fs.exists, self.path)

    def size(self) -> int | None:
        """Bytes of the object, or None when it does not exist (or cannot be asked)."""
        self._forget()
        try:
            return int(self.fs.size(self.path))
        except (*_storage_errors(), TypeError):
            return None

    def is_dir(self) -> bool:
        return self._ask(self.fs.isdir, self.path)

    def _forget(self) -> None:
        """Drop what the file system remembers of this path (fsspec caches listings per
        instance, and instances per process): whether an output is there, and its size,
        are asked of the store, which another program may have changed since."""
        with contextlib.suppress(*_storage_errors(), AttributeError):
            self.fs.invalidate_cache(self.path)

    def _ask(self, function, *args):
        try:
            return function(*args)
        except _storage_errors() as error:
            raise _failure(error, self, f"{self}: ", InputError) from error

    def contains(self, other: LocalLocation | RemoteLocation) -> bool:
        if not isinstance(other, RemoteLocation) or other.scheme != self.scheme:
            return False
        mine = self.path.rstrip("/")
        return other.path == mine or other.path.startswith(mine + "/")

    def same_file(self, other: LocalLocation | RemoteLocation) -> bool:
        return isinstance(other, RemoteLocation) and other.scheme == self.scheme and \
            other.path == self.path

    def page_count(self) -> int:
        """Pages of the image file here (its header only)."""
        try:
            with self.fs.open(self.path, "rb") as stream:
                return count_pages(stream)
        except _storage_errors():
            return 1

    def read_pages(self, max_megapixels: float, label: str):

        try:
            data = self.fs.cat_file(self.path)
        except FileNotFoundError:
            raise InputError(f"{label}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{label}: a folder, not an image file") from None
        except _storage_errors() as error:
            # one object that cannot be read (a policy, an encryption key) fails alone
            raise _failure(error, label, f"{label}: cannot read: ", InputError,
                           denied_is_setup=False) from error
        if not data:
            raise InputError(f"{label}: empty file (0 bytes)")
        return read_pages(data, max_megapixels, name=label)

    def write_bytes(self, data: bytes, overwrite: bool) -> None:
        """Write atomically: one put on an object store, else a temporary name and a move."""
        if not overwrite and self.exists():
            raise OutputError(f"{self} exists; pass --overwrite to replace it")
        fs = self.fs
        if self.scheme in _OBJECT_STORES:
            try:
                fs.pipe_file(self.path, data)
            except _storage_errors() as error:
                raise _failure(error, self, f"cannot write {self}: ", OutputError) from error
            return
        parent, _, name = self.path.rpartition("/")
        temporary = f"{parent}/.{name}.{secrets.token_hex(4)}.tmp"
        try:
            fs.pipe_file(temporary, data)
            fs.mv(temporary, self.path)
        except _storage_errors() as error:
            raise _failure(error, self, f"cannot write {self}: ", OutputError) from error
        finally:
            with contextlib.suppress(*_storage_errors()):
                if fs.exists(temporary):
                    fs.rm_file(temporary)

    def make_folder(self) -> None:
        try:
            self.fs.makedirs(self.path, exist_ok=True)
        except _storage_errors() as error:
            raise _failure(error, self, f"cannot create the folder {self}: ",
                           OutputError) from error

    def list_files(self, recursive: bool) -> list[tuple[RemoteLocation, str]]:
        root = self.path.rstrip("/")
        try:
            if recursive:
                entries = self.fs.find(root, detail=True).values()
            else:
                entries = self.fs.ls(root, detail=True)
        except _storage_errors() as error:
            raise _failure(error, self, f"{self}: cannot list: ", InputError) from error
        found = []
        for entry in entries:
            if entry.get("type") != "file":
                continue
            name = entry["name"]
            name = name if name.startswith(root) else self.fs._strip_protocol(name)
            relative = name[len(root):].lstrip("/")
            if relative:
                found.append((self.child(relative), relative))
        return found
