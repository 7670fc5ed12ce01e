"""A storage backend with faults, for the batch and cluster tests: ``faulty:///abs/path``.

It is the local file system, except that reading a file whose name contains

- ``unreadable`` fails with a permission error (as root, a chmod cannot make one);
- ``kill-once`` kills the Dask worker reading it the first time (a marker file next to it
  remembers), as an out-of-memory kill would;
- ``kill-always`` kills every Dask worker that reads it.

The kills happen only inside a Dask worker, never in the test process. Its instances pickle
by reference to this module, so Dask workers (spawned with the test's sys.path) unpickle
them without registering anything.
"""

from __future__ import annotations

import os

import fsspec
from fsspec.implementations.local import LocalFileSystem


def _in_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


class FaultyFileSystem(LocalFileSystem):
    protocol = ("faulty",)

    def cat_file(self, path, start=None, end=None, **kwargs):
        path = self._strip_protocol(path)
        name = os.path.basename(path)
        if "unreadable" in name:
            raise PermissionError(13, "Permission denied", path)
        if "kill-" in name and _in_dask_worker():
            marker = path + ".killed"
            if "kill-always" in name or not os.path.exists(marker):
                with open(marker, "a") as stream:
                    stream.write("x")
                os._exit(1)
        return super().cat_file(path, start=start, end=end, **kwargs)


def register() -> None:
    fsspec.register_implementation("faulty", FaultyFileSystem, clobber=True)
