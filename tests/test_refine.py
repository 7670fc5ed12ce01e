"""The hybrid's refinement near the threshold: features, band, runtime checks, banding."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from docbin.errors import ModelError
from docbin.method import decision as threshold
from docbin.method import refine, stats
from docbin.method.surface import logistic_surface
from docbin.pipeline import binarize

onnx = pytest.importorskip("onnx")


def linear_network(path, weights, bias, *, margin=0.2, features=refine.FEATURES, meta=True,
                   direction="both", reach=None, shape=None):
    """An ONNX network p = sigmoid(x · weights + bias) with the refinement metadata."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.asarray(weights, np.float32).reshape(-1, 1), "w")
    b = numpy_helper.from_array(np.asarray([bias], np.float32), "b")
    nodes = [helper.make_node("MatMul", ["features", "w"], ["z0"]),
             helper.make_node("Add", ["z0", "b"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["text"])]
    graph = helper.make_graph(
        nodes, "refine", [helper.make_tensor_value_info("features", TensorProto.FLOAT,
                                                        ["n", len(refine.FEATURES)])],
        [helper.make_tensor_value_info("text", TensorProto.FLOAT, ["n", 1])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if meta:
        for key, value in ((refine.META_FEATURES, json.dumps(list(features))),
                           (refine.META_MARGIN, repr(margin)),
                           (refine.META_DIRECTION, direction),
                           *(((refine.META_REACH, str(reach)),) if reach is not None else ()),
                           *(((refine.META_SHAPE, shape),) if shape is not None else ())):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def page_parts(image):
    page = stats.page_stats(image)
    f = float(logistic_surface(page.b, page.t))
    local = threshold.local_stats(image, page.window_radius)
    constants = refine.PageConstants(page.ink_intensity, page.contour_intensity,
                                     page.window_radius, f)
    return page, f, local, constants


def features_reference(image, median, mean, page, r, c):
    """One pixel's features with plain window arithmetic (edge replication by clipping)."""
    rows, cols = image.shape

    def window(radius):
        rr = np.clip(np.arange(r - radius, r + radius + 1), 0, rows - 1)
        cc = np.clip(np.arange(c - radius, c + radius + 1), 0, cols - 1)
        return image[np.ix_(rr, cc)].astype(np.float64)

    v, con = float(image[r, c]), page.contrast
    s, h = page.radii
    w2, ws, wh = window(2), window(s), window(h)
    values = [v - page.factor * float(median[r, c]), v - float(mean[r, c]),
              v - page.ink_intensity, page.contour_intensity - v,
              float(median[r, c]) - float(mean[r, c]),
              v - w2.mean(), w2.std(), v - ws.mean(), ws.std(), v - wh.mean(),
              v - window(1).min(), window(1).max() - v, v - window(3).min()]
    return [x / con for x in values]


def test_features_match_the_window_reference(make_page):
    image = make_page(70, 90, 2)
    _page, _f, local, constants = page_parts(image)
    where = refine.band_mask(image, local.local_median, constants, 0.3)
    rows, cols = np.nonzero(where)
    got = refine.features(image, local.local_median, local.local_mean, constants, where)
    pick = np.linspace(0, len(rows) - 1, 25).astype(int)
    for i in pick:
        expected = features_reference(image, local.local_median, local.local_mean, constants,
                                      rows[i], cols[i])
        np.testing.assert_allclose(got[i], expected, rtol=1e-4, atol=2e-4)


def test_band_is_the_pixels_near_the_threshold(make_page):
    image = make_page(60, 80, 0)
    _page, f, local, constants = page_parts(image)
    band = refine.band_mask(image, local.local_median, constants, 0.1)
    distance = np.abs(image - f * local.local_median.astype(np.float64))
    assert band.any() and not band.all()
    assert (distance[band] < 0.1 * constants.contrast + 1e-3).all()
    assert (distance[~band] >= 0.1 * constants.contrast - 1e-3).all()


@pytest.mark.parametrize("bias, turns", [(30.0, "text"), (-30.0, "background")])
def test_the_network_decides_the_band_and_nothing_else(tmp_path, make_page, bias, turns):
    image = make_page(120, 160, 1)
    net = linear_network(tmp_path / "n.onnx", np.zeros(len(refine.FEATURES)), bias)
    _page, _f, local, constants = page_parts(image)
    band = refine.band_mask(image, local.local_median, constants, 0.2)
    classical = binarize(image, "classical").image == 0
    result = binarize(image, "hybrid", steps="refine", model=str(net), record_refined=True)
    hybrid = result.image == 0
    np.testing.assert_array_equal(hybrid[~band], classical[~band])
    assert hybrid[band].all() if turns == "text" else not hybrid[band].any()
    info = result.info["hybrid"]
    assert info["refined_pixels"] == band.sum() and info["margin"] == 0.2
    changed = {"text": np.count_nonzero(band & ~classical),
               "background": np.count_nonzero(band & classical)}
    assert info[f"to_{turns}"] == changed[turns] > 0
    assert (result.refined > 0).sum() == band.sum()


@pytest.mark.parametrize("bias", [30.0, -30.0])
def test_an_add_network_only_adds_text(tmp_path, make_page, bias):
    image = make_page(120, 160, 1)
    net = linear_network(tmp_path / "n.onnx", np.zeros(len(refine.FEATURES)), bias,
                         direction="add")
    _page, _f, local, constants = page_parts(image)
    band = refine.band_mask(image, local.local_median, constants, 0.2)
    classical = binarize(image, "classical").image == 0
    result = binarize(image, "hybrid", steps="refine", model=str(net))
    hybrid = result.image == 0
    assert (hybrid >= classical).all()  # nothing the classical rule made text is lost
    np.testing.assert_array_equal(hybrid, classical | band if bias > 0 else classical)
    assert result.info["hybrid"]["direction"] == "add"
    assert result.info["hybrid"]["to_background"] == 0


def test_balance_moves_the_probability_threshold(tmp_path, make_page):
    image = make_page(80, 120, 3)
    net = linear_network(tmp_path / "n.onnx", np.zeros(len(refine.FEATURES)),
                         float(np.log(0.3 / 0.7)))  # p = 0.3 everywhere
    _page, _f, local, constants = page_parts(image)
    band = refine.band_mask(image, local.local_median, constants, 0.2)
    assert not (binarize(image, "hybrid", steps="refine", model=str(net)).image == 0)[band].any()
    assert (binarize(image, "hybrid", steps="refine", model=str(net), balance=0.8).image == 0)[band].all()


@pytest.mark.parametrize("per_pixel", [False, True])
def test_banded_refinement_equals_the_whole_page(tmp_path, make_page, per_pixel, kernel_form):
    """The refinement inside the banded decision (the compiled rule with L_m inverted on
    bright pages, or the OpenCV form; one f, or f per pixel as the surface step gives)
    equals the whole-page rule refined at once."""
    image = np.tile(make_page(150, 200, 4), (3, 2))  # 450 x 400: many bands below
    weights = np.random.default_rng(0).normal(size=len(refine.FEATURES))
    net = refine.Refiner(linear_network(tmp_path / "n.onnx", weights, 0.1))
    page, f, local, constants = page_parts(image)
    factor = f
    if per_pixel:
        ramp = np.linspace(-0.05, 0.05, image.shape[1], dtype=np.float32)
        factor = np.broadcast_to(np.float32(f) + ramp, image.shape).copy()
    whole = threshold.ink_mask(local, factor).view(np.uint8) * np.uint8(255)
    refiner = refine.RowRefiner(net, constants, image)
    refiner(0, image.shape[0], local.local_median, local.local_mean, whole)
    banded = threshold.binary_page(image, page.window_radius, factor, threads=2,
                                   band_pixels=4000,
                                   refine=refine.RowRefiner(net, constants, image))
    assert refiner.refined > 0
    np.testing.assert_array_equal(banded == 0, whole > 0)


def test_refiner_checks_its_metadata(tmp_path):
    with pytest.raises(ModelError, match="metadata"):
        refine.Refiner(linear_network(tmp_path / "a.onnx", np.zeros(len(refine.FEATURES)), 0.0, meta=False))
    other = list(refine.FEATURES[::-1])
    with pytest.raises(ModelError, match="features"):
        refine.Refiner(linear_network(tmp_path / "b.onnx", np.zeros(len(refine.FEATURES)), 0.0, features=other))
    with pytest.raises(ModelError, match="outside"):
        refine.Refiner(linear_network(tmp_path / "c.onnx", np.zeros(len(refine.FEATURES)), 0.0,
                                      margin=3.0))
    with pytest.raises(ModelError, match="direction"):
        refine.Refiner(linear_network(tmp_path / "e.onnx", np.zeros(len(refine.FEATURES)), 0.0,
                                      direction="sideways"))
    for bad in ("-1", "near"):
        with pytest.raises(ModelError, match="reach"):
            refine.Refiner(linear_network(tmp_path / "r.onnx", np.zeros(len(refine.FEATURES)),
                                          0.0, reach=bad))
    assert refine.Refiner(linear_network(tmp_path / "f.onnx", np.zeros(len(refine.FEATURES)),
                                         0.0)).reach == 0  # no limit when absent
    with pytest.raises(ModelError, match="shape"):
        refine.Refiner(linear_network(tmp_path / "s.onnx", np.zeros(len(refine.FEATURES)),
                                      0.0, shape="round"))
    assert refine.Refiner(linear_network(tmp_path / "g.onnx", np.zeros(len(refine.FEATURES)),
                                         0.0)).shape == "free"  # no shape rule when absent
    (tmp_path / "d.onnx").write_bytes(b"not a network")
    with pytest.raises(ModelError, match="ONNX"):
        refine.Refiner(tmp_path / "d.onnx")
    with pytest.raises(ModelError, match="not found"):
        refine.load_refiner(tmp_path / "missing.onnx")


def test_the_shipped_network_loads_and_refines(make_page):
    network = refine.load_refiner()
    assert 0 < network.margin <= 1 and network.description
    result = binarize(make_page(100, 140, 5), "hybrid")
    assert result.info["hybrid"]["model"] == refine.PACKAGED_NAME


def test_hybrid_has_no_region_scope():
    from docbin.options import Options

    with pytest.raises(ValueError, match="region"):
        Options(method="hybrid", scope="region")


@pytest.mark.parametrize("factor, half", [(0.7, 3.4), (0.93, 0.2), (0.5, 40.0)])
def test_band_tables_equal_the_float32_rule(factor, half):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (50, 60)).astype(np.uint8)
    median = rng.integers(0, 256, (50, 60)).astype(np.uint8)
    page = refine.PageConstants(0.0, half / 0.1, 5, factor)  # contrast = half / 0.1
    expected = np.abs(image.astype(np.float32) - np.float32(factor) * median.astype(np.float32)) \
        < np.float32(0.1 * page.contrast)
    np.testing.assert_array_equal(refine.band_mask(image, median, page, 0.1), expected)


def limit_reach_reference(text, added, reach, removed=None):
    """The reach rule pixel by pixel: added text with no classical text in its square."""
    classical = text & ~added
    if removed is not None:
        classical |= removed
    out = text.copy()
    for r, c in zip(*np.nonzero(added)):
        square = classical[max(0, r - reach):r + reach + 1, max(0, c - reach):c + reach + 1]
        if not square.any():
            out[r, c] = False
    return out


@pytest.mark.parametrize("reach, band_rows", [(1, None), (1, 3), (2, 5), (3, 1)])
def test_limit_reach_equals_the_pixel_rule(reach, band_rows):
    rng = np.random.default_rng(reach * 10 + (band_rows or 0))
    classical = rng.random((37, 29)) < 0.08
    added = (rng.random((37, 29)) < 0.2) & ~classical
    text = classical | added
    expected = limit_reach_reference(text, added, reach)

    def changes(removed=None):
        out = np.where(added, refine.MADE_TEXT, 0).astype(np.uint8)
        if removed is not None:
            out[removed] = refine.MADE_BACKGROUND
        return out

    page = np.where(text, 0, 255).astype(np.uint8)  # docbin's output: text 0
    done = changes()
    count = refine.limit_reach(page, done, reach, band_rows=band_rows)
    np.testing.assert_array_equal(page == 0, expected)
    assert count == np.count_nonzero(text & ~expected) > 0
    np.testing.assert_array_equal(done == refine.KEPT, text & ~expected)  # turned back
    mask = text.copy()  # a boolean page gives the same
    refine.limit_reach(mask, changes(), reach, text=True, background=False,
                       band_rows=band_rows)
    np.testing.assert_array_equal(mask, expected)
    assert refine.limit_reach(page, changes(), 0) == 0
    # classical text the refinement made background still counts as classical text
    removed = classical & (rng.random(classical.shape) < 0.5)
    page = np.where(text & ~removed, 0, 255).astype(np.uint8)
    refine.limit_reach(page, changes(removed), reach, band_rows=band_rows)
    np.testing.assert_array_equal(page == 0, limit_reach_reference(text, added, reach, removed)
                                  & ~removed)


def with_smudge(image):
    """The page with a faint 5 × 5 smudge just above the threshold where it is farthest
    from the text: band pixels out of the reach of classical text."""
    _page, f, local, _constants = page_parts(image)
    far = cv2.distanceTransform((binarize(image, "classical").image != 0).view(np.uint8),
                                cv2.DIST_C, 3)
    r, c = np.unravel_index(np.argmax(far), far.shape)
    level = int(np.ceil(f * float(local.local_median[r, c]))) + 1
    image = image.copy()
    image[max(0, r - 2):r + 3, max(0, c - 2):c + 3] = min(level, 255)
    return image


@pytest.mark.parametrize("reach", [1, 0])
def test_added_text_stays_within_the_networks_reach(tmp_path, make_page, reach):
    image = with_smudge(make_page(160, 200, 6))
    # p ≈ 1 everywhere: every band pixel of the classical background would become text
    net = linear_network(tmp_path / "n.onnx", np.zeros(len(refine.FEATURES)), 30.0,
                         direction="add", reach=reach)
    _page, _f, local, constants = page_parts(image)
    band = refine.band_mask(image, local.local_median, constants, 0.2)
    classical = binarize(image, "classical").image == 0
    result = binarize(image, "hybrid", steps="refine", model=str(net), record_refined=True)
    hybrid = result.image == 0
    unlimited = classical | band
    expected = limit_reach_reference(unlimited, unlimited & ~classical, reach) if reach \
        else unlimited
    np.testing.assert_array_equal(hybrid, expected)
    info = result.info["hybrid"]
    assert info["reach"] == reach
    assert info["out_of_reach"] == np.count_nonzero(unlimited & ~expected)
    assert info["to_text"] == np.count_nonzero(hybrid & ~classical)
    if reach:
        assert info["out_of_reach"] > 0
        assert (result.refined[unlimited & ~expected] == 1).all()  # the classical value stands
    assert (result.refined[hybrid & ~classical] == 2).all()


def test_reach_on_a_banded_page_equals_the_whole_page_rule(tmp_path, make_page, kernel_form):
    image = with_smudge(np.tile(make_page(150, 200, 4), (3, 2)))  # 450 x 400: bands
    weights = np.random.default_rng(1).normal(size=len(refine.FEATURES)) * 0.1
    path = linear_network(tmp_path / "n.onnx", weights, 3.0, direction="add", reach=1)
    net = refine.Refiner(path)
    _page, f, local, constants = page_parts(image)
    whole = threshold.ink_mask(local, f).view(np.uint8) * np.uint8(255)
    classical = whole > 0
    refine.RowRefiner(net, constants, image)(0, image.shape[0], local.local_median,
                                             local.local_mean, whole)
    unlimited = whole > 0
    expected = limit_reach_reference(unlimited, unlimited & ~classical, 1)
    assert np.count_nonzero(unlimited & ~expected) > 0  # the limit has work to do
    result = binarize(image, "hybrid", steps="refine", model=str(path), threads=2)
    np.testing.assert_array_equal(result.image == 0, expected)


@pytest.mark.parametrize("shape,density", [((7, 13), 0.3), ((1, 9), 0.5), ((6, 1), 0.5),
                                           ((0, 4), 0.5), ((40, 50), 0.01)])
def test_nonzero_is_numpys(shape, density):
    from docbin.method.refine import nonzero

    mask = np.random.default_rng(3).random(shape) < density
    for got, expected in zip(nonzero(mask), np.nonzero(mask)):
        np.testing.assert_array_equal(got, expected)
    strided = np.random.default_rng(4).random((9, 20)) < density
    for got, expected in zip(nonzero(strided[:, ::2]), np.nonzero(strided[:, ::2])):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("reach, seed", [(1, 0), (1, 1), (2, 2), (3, 3)])
def test_limit_reach_sparse_equals_the_map_form(reach, seed):
    """The reach limit from the changed pixels' indices (what the hybrid runs) gives the
    map form's page and count, borders included, on text and boolean pages."""
    rng = np.random.default_rng(seed)
    shape = (23, 31)
    classical = rng.random(shape) < 0.06
    added = (rng.random(shape) < 0.25) & ~classical
    added[0, :] |= rng.random(shape[1]) < 0.5  # on the page's border rows and columns
    added[:, -1] |= rng.random(shape[0]) < 0.5
    added &= ~classical
    removed = classical & (rng.random(shape) < 0.3)
    text = (classical & ~removed) | added
    changes = np.where(added, refine.MADE_TEXT, 0).astype(np.uint8)
    changes[removed] = refine.MADE_BACKGROUND
    dense = np.where(text, 0, 255).astype(np.uint8)
    count = refine.limit_reach(dense, changes, reach)
    sparse = np.where(text, 0, 255).astype(np.uint8)
    assert refine.limit_reach_sparse(sparse, np.flatnonzero(added), reach,
                                     removed=np.flatnonzero(removed)) == count > 0
    np.testing.assert_array_equal(sparse, dense)
    mask = text.copy()
    refine.limit_reach_sparse(mask, np.flatnonzero(added), reach,
                              removed=np.flatnonzero(removed), text=True, background=False)
    np.testing.assert_array_equal(mask, dense == 0)


def limit_shape_reference(text: np.ndarray, added: np.ndarray, removed=None) -> np.ndarray:
    """The shape rule on whole-page maps (OpenCV labels, a 3 × 3 sum): the page's text after
    it. ``added``: the additions still standing in ``text``."""
    removed = np.zeros_like(text) if removed is None else removed
    classical = (text & ~added) | removed
    square = np.ones((3, 3), np.float32)
    text_neighbours = cv2.filter2D(classical.view(np.uint8), cv2.CV_16S, square,
                                   borderType=cv2.BORDER_CONSTANT) - classical
    _, components = cv2.connectedComponents(classical.view(np.uint8), connectivity=8)
    groups, group_of = cv2.connectedComponents(added.view(np.uint8), connectivity=8)
    touched = [set() for _ in range(groups)]
    rows, cols = text.shape
    for r, c in zip(*np.nonzero(added)):
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                rr, cc = r + dr, c + dc
                if (dr or dc) and 0 <= rr < rows and 0 <= cc < cols and classical[rr, cc]:
                    touched[group_of[r, c]].add(components[rr, cc])
    joins = np.array([len(t) >= 2 for t in touched])
    keep = added & ((text_neighbours >= refine.FILL_NEIGHBOURS) | joins[group_of])
    return (text & ~added) | keep


def strokes(*rectangles, shape=(20, 24)):
    page = np.zeros(shape, bool)
    for r0, r1, c0, c1 in rectangles:
        page[r0:r1, c0:c1] = True
    return page


@pytest.mark.parametrize("case", ["wider", "gap", "notch", "hole", "bridge"])
def test_the_shape_rule_by_hand(case):
    """A wider stroke goes back; a one-pixel gap, a notch, a hole and a two-pixel bridge
    between two strokes stay."""
    classical = strokes((4, 16, 8, 11))  # a vertical stroke, 3 px wide
    added = np.zeros_like(classical)
    if case == "wider":
        added[4:16, 11] = True  # one more column: 3 text neighbours each, or fewer
    elif case == "gap":
        classical = strokes((4, 16, 8, 11), (4, 16, 12, 15))
        added[6:9, 11] = True  # between two strokes: joins them
    elif case == "notch":
        classical[9, 10] = False  # a pixel bitten out of the border: 5 text neighbours
        added[9, 10] = True
    elif case == "hole":
        classical = strokes((4, 16, 8, 13))
        classical[9, 10] = False
        added[9, 10] = True
    elif case == "bridge":
        classical = strokes((4, 16, 8, 11), (4, 16, 13, 16))
        added[10, 11:13] = True  # two pixels wide gap
    text = classical | added
    page = np.where(text, 0, 255).astype(np.uint8)
    back = refine.limit_shape_sparse(page, np.flatnonzero(added))
    expected = classical if case == "wider" else text
    np.testing.assert_array_equal(page == 0, expected)
    np.testing.assert_array_equal(np.sort(back), np.flatnonzero(text & ~expected))


@pytest.mark.parametrize("seed", range(6))
def test_limit_shape_sparse_equals_the_page_rule(seed, kernel_form):
    """The sparse shape rule (runs of text or OpenCV labels for the classical components,
    scipy for the groups of additions) equals the whole-page rule, borders included, with
    removed pixels, on text and boolean pages."""
    rng = np.random.default_rng(seed)
    shape = (31, 43) if seed % 2 else (17, 60)
    classical = cv2.dilate((rng.random(shape) < 0.04).view(np.uint8),
                           np.ones((2, 3), np.uint8)).astype(bool)
    ring = cv2.dilate(classical.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    added = ring & ~classical & (rng.random(shape) < 0.4)
    added[0, :] |= (rng.random(shape[1]) < 0.3) & ~classical[0, :]  # on the border
    added[:, -1] |= (rng.random(shape[0]) < 0.3) & ~classical[:, -1]
    removed = classical & (rng.random(shape) < (0.1 if seed > 2 else 0.0))
    text = (classical & ~removed) | added
    expected = limit_shape_reference(text, added, removed)
    assert 0 < np.count_nonzero(text & ~expected) < np.count_nonzero(added)  # work both ways
    page = np.where(text, 0, 255).astype(np.uint8)
    back = refine.limit_shape_sparse(page, np.flatnonzero(added)[::-1],  # any order
                                     removed=np.flatnonzero(removed))
    np.testing.assert_array_equal(page == 0, expected)
    assert back.size == np.count_nonzero(text & ~expected)
    mask = text.copy()
    refine.limit_shape_sparse(mask, np.flatnonzero(added), removed=np.flatnonzero(removed),
                              text=True, background=False)
    np.testing.assert_array_equal(mask, expected)
    # additions the reach already turned back are left alone
    page = np.where(expected, 0, 255).astype(np.uint8)
    assert refine.limit_shape_sparse(page, np.flatnonzero(text & ~expected)).size == 0


@pytest.mark.parametrize("record", [False, True])
def test_the_shape_rule_in_the_hybrid(tmp_path, make_page, record, kernel_form):
    """A network that adds every band pixel it may: the hybrid's page is the reach, then the
    shape rule on the whole page; the same with --explain's map (record) and without;
    --explain counts what the rule turned back."""
    image = with_smudge(np.tile(make_page(150, 200, 4), (3, 2)))
    path = linear_network(tmp_path / "n.onnx", np.zeros(len(refine.FEATURES)), 30.0,
                          direction="add", reach=1, shape="keep")
    _page, _f, local, constants = page_parts(image)
    band = refine.band_mask(image, local.local_median, constants, 0.2)
    classical = binarize(image, "classical").image == 0
    unlimited = classical | band
    reached = limit_reach_reference(unlimited, unlimited & ~classical, 1)
    expected = limit_shape_reference(reached, reached & ~classical)
    assert np.count_nonzero(reached & ~expected) > 0 and np.count_nonzero(expected & ~classical)
    result = binarize(image, "hybrid", steps="refine", model=str(path), threads=2,
                      record_refined=record)
    np.testing.assert_array_equal(result.image == 0, expected)
    info = result.info["hybrid"]
    assert info["shape"] == "keep"
    assert info["out_of_shape"] == np.count_nonzero(reached & ~expected)
    assert info["to_text"] == np.count_nonzero(expected & ~classical)
    if record:
        assert (result.refined[reached & ~expected] == refine.KEPT).all()
        assert (result.refined[expected & ~classical] == refine.MADE_TEXT).all()


@pytest.mark.parametrize("shape", [(1, 12), (12, 1), (2, 2), (1, 1)])
def test_the_shape_rule_on_thin_pages(shape, kernel_form):
    """Pages one pixel high or wide, and tiny ones: the sparse rule equals the page rule."""
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        classical = rng.random(shape) < 0.4
        added = ~classical & (rng.random(shape) < 0.6)
        text = classical | added
        page = np.where(text, 0, 255).astype(np.uint8)
        refine.limit_shape_sparse(page, np.flatnonzero(added))
        np.testing.assert_array_equal(page == 0, limit_shape_reference(text, added))


def test_the_shape_rule_in_chunks_equals_the_whole(monkeypatch):
    """Pixels handled a chunk at a time (pairs across chunks included) give the same."""
    rng = np.random.default_rng(11)
    classical = cv2.dilate((rng.random((40, 50)) < 0.04).view(np.uint8),
                           np.ones((2, 3), np.uint8)).astype(bool)
    ring = cv2.dilate(classical.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    added = ring & ~classical & (rng.random(classical.shape) < 0.5)
    whole = refine.shape_keeps(np.where(classical, 0, 255).astype(np.uint8),
                               np.flatnonzero(added))
    monkeypatch.setattr(refine, "CHUNK", 7)
    chunked = refine.shape_keeps(np.where(classical, 0, 255).astype(np.uint8),
                                 np.flatnonzero(added))
    np.testing.assert_array_equal(chunked, whole)
    assert 0 < chunked.sum() < chunked.size
    expected = limit_shape_reference(classical | added, added)
    np.testing.assert_array_equal(expected[added], chunked)
