"""Build of docbin's optional compiled kernels (everything else is in pyproject.toml).

``docbin._kernels`` (docbin/_kernels.c) runs the inner loops of the statistics step (the
non-maximum suppression, the edge levels, the samples of B_I and T_I with the components'
boxes), the decision rule and the clean step (its components as runs of text, their sums
and boxes, the neighbour-ink blocks, the drop) in one pass each, and the decision's local
median and mean of windows over 255 px (and the refine step's window sums of large windows)
in one streamed pass. It is optional: where no C compiler is found
the build skips it (a warning) and docbin computes the same results with OpenCV and NumPy,
more slowly (docbin.method.kernels).
"""

import sys

from setuptools import Extension, setup

args = [] if sys.platform == "win32" else ["-O3", "-std=c99"]

setup(ext_modules=[Extension("docbin._kernels", ["docbin/_kernels.c"], optional=True,
                             extra_compile_args=args)])
