"""Arrays made from the bytes to binarize(): a binary page of the input's shape."""

import sys

import atheris
import numpy as np

with atheris.instrument_imports():  # the pipeline and the method's modules, instrumented
    import docbin.pipeline
    from docbin.errors import DocbinError


def test_one_input(data: bytes) -> None:
    if len(data) < 3:
        return
    rows, cols, channels = 1 + data[0] % 64, 1 + data[1] % 64, (1, 3, 4)[data[2] % 3]
    pixels = np.frombuffer(data[3:], np.uint8)
    if pixels.size == 0:
        return
    page = np.resize(pixels, (rows, cols, channels) if channels > 1 else (rows, cols))
    try:
        result = docbin.pipeline.binarize(page, threads=1)
    except DocbinError:
        return
    assert result.image.shape == (rows, cols) and result.image.dtype == np.uint8
    assert np.isin(result.image, (0, 255)).all()


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
