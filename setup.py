"""Build of docbin's optional compiled kernel (everything else is in pyproject.toml).

``docbin._kernels`` makes the edge step's non-maximum suppression one pass instead of some
thirty. It is optional: where no C compiler is found the build skips it (a warning) and
docbin computes the same results with OpenCV and NumPy, more slowly.
"""

import sys

from setuptools import Extension, setup

args = [] if sys.platform == "win32" else ["-O3", "-std=c99"]

setup(ext_modules=[Extension("docbin._kernels", ["docbin/_kernels.c"], optional=True,
                             extra_compile_args=args)])
