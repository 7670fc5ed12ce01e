"""Many pages: the per-file worker, the local pool and the Dask executor, storage, the manifest."""
