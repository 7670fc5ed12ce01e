"""docbin.pipeline.binarize_with: the pipeline's steps with given models (the benchmarks run
the hybrid with models trained on part of the development pages through it)."""

from __future__ import annotations

import numpy as np
import pytest

from docbin import synth
from docbin.method import adjust, clean, refine
from docbin.options import Options
from docbin.pipeline import binarize, binarize_with


def _bleed_page(seed: int = 0, strength: float = 0.7):
    """A printed page with strong bleed-through (the clean step drops some of it)."""
    rng = np.random.default_rng([31, seed])
    page, _ = synth.clean_page(900, 700, rng, handwriting=0.0)
    page = synth.paper_texture(page, rng, strength=0.1)
    page = synth.bleed_through(page, rng, strength=strength, sigma=1.5)
    return synth.noise(page, rng, sigma=2.0, speckle=0.01)


def _shipped():
    return {"surface_model": adjust.load_surface_model(), "network": refine.load_refiner(),
            "cleaner": clean.load_cleaner()}


@pytest.mark.parametrize("steps", [None, ("refine",), ("surface", "clean"), ()])
def test_binarize_with_the_shipped_models_is_binarize(steps):
    page = _bleed_page()
    options = Options(method="hybrid", steps=steps) if steps != () else Options()
    models = {k: v for k, v in _shipped().items()
              if {"surface_model": "surface", "network": "refine",
                  "cleaner": "clean"}[k] in options.resolved_steps}
    expected = binarize(page, options=options)
    got = binarize_with(page, options, **models)
    assert np.array_equal(got.image, expected.image)
    assert got.info.get("steps") == expected.info.get("steps")


def test_the_page_before_the_clean_step_is_the_result_with_the_dropped_ink_put_back():
    """What benchmarks/generalization.py --whole reports as surface+refine."""
    page = _bleed_page()
    models = _shipped()
    options = Options(method="hybrid")
    whole = binarize_with(page, options, record_refined=True, **models)
    assert whole.dropped is not None and whole.dropped.any()  # the clean step dropped ink
    assert not (whole.ink & whole.dropped).any()
    before = binarize_with(page, options, surface_model=models["surface_model"],
                           network=models["network"])
    assert np.array_equal(whole.ink | whole.dropped, before.ink)
