"""Any bytes to docbin's readers: a page or a docbin error, nothing else."""

import sys

import atheris

with atheris.instrument_imports():
    from docbin.errors import DocbinError
    from docbin.io import read_pages


def test_one_input(data: bytes) -> None:
    try:
        pages = read_pages(data, max_megapixels=4.0, name="fuzz")
    except DocbinError:
        return
    for page in pages:
        assert page.image.dtype.name == "uint8" and page.image.ndim == 2
        assert page.image.size > 0


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
