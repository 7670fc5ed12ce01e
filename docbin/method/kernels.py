"""docbin's optional compiled kernels (``docbin/_kernels.c``, built by setup.py where a C
compiler is found).

``compiled`` is the module, or None where it was not built: the steps then run the same
computations in their OpenCV/NumPy form (bit-identical, slower). The steps read
``kernels.compiled`` when they run, so setting it to None (as the tests and the speed
benchmark do) switches every step to the OpenCV/NumPy form at once.
"""

from __future__ import annotations

try:  # the inner loops in compiled passes (optional: the same results without, slower)
    import docbin._kernels as compiled
except ImportError:  # pragma: no cover - docbin installed where no C compiler was found
    compiled = None
