"""Any text as a manifest: its records read, resumed and summarised without a crash."""

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from docbin.batch.manifest import completed, read_records, summarise
    from docbin.errors import DocbinError

PATH = os.path.join(tempfile.mkdtemp(), "run.jsonl")


def test_one_input(data: bytes) -> None:
    with open(PATH, "wb") as stream:
        stream.write(data)
    try:
        records = read_records(PATH)
    except DocbinError:
        return
    completed(records)
    summarise(records, 3)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
