"""The ``surface`` step of ``--method hybrid``: a small network moves the B-spline offset
of the decision surface patch by patch (METHOD.md §2–§3).

The page is cut into 512 × 512 patches (:func:`docbin.method.surface.patch_grid_shape`).
For every patch the network (ONNX, onnxruntime only) reads the patch downscaled to
``input_size`` × ``input_size`` (area average of 8 × 8 pixels) and constant planes of the
surface parameters and of the target metrics, and returns the offset net
``Δz = δ_max · tanh(raw)`` (n × n). The patch's factor is

    f_patch = clip(logistic(b_page, t_page) + Σ_ij Δz_ij N_i(b_patch) N_j(t_patch), 0.05, 1)

(:func:`docbin.method.surface.patch_factors`), with (b_patch, t_patch) the patch's own
statistics pulled toward the page's (:func:`docbin.method.surface.patch_statistics`) when
the page's block histograms are given, the page's point otherwise. The factors are
blended bilinearly between patch centres and handed to the decision as a rows callable
(:class:`docbin.method.surface.PatchFieldRows`); when every Δz is exactly zero the step
hands over the scalar page factor itself, so the decision is bit for bit the classical one.

Input channels, in the order the model's metadata lists them (:data:`CHANNELS`):

- ``gray``: the patch, I/255, downscaled; pages are padded by symmetric reflection;
- ``base_z``: the control net of the least-squares B-spline fit of the logistic surface
  (:func:`docbin.method.surface.fit_logistic`), resized bilinearly to the input size;
- ``b_page``, ``t_page``: constant planes B_I/255 and T_I/255 of the page;
- ``alpha``, ``beta``: constant planes, the weights of (1 − FM) and of NRM in the training
  loss; at inference ``alpha = 1 − balance``, ``beta = balance`` (balance toward 1 punishes
  missed ink more: keeps more faint strokes);
- ``b_patch``, ``t_patch``: constant planes of the patch's own point;
- ``f_page``: constant plane of the classical page factor logistic(b_page, t_page);
- ``edge_weight``: constant plane ``n_B / (n_B + 512)`` of the patch's strong edges.
"""

from __future__ import annotations

import json
import threading

import cv2
import numpy as np

from docbin.errors import InputError, ModelError
from docbin.method import surface as _surface

#: Every input channel this runtime can build, in the shipped order.
CHANNELS = ("gray", "base_z", "b_page", "t_page", "alpha", "beta", "b_patch", "t_patch",
            "f_page", "edge_weight")
#: Metadata keys of a surface network (ONNX ``metadata_props``).
META_KIND = "docbin.kind"
KIND = "surface"
META_CHANNELS = "docbin.channels"
META_N = "docbin.n"
META_DEGREE = "docbin.degree"
META_KNOTS = "docbin.knots"
META_BASE_Z = "docbin.base_z"
META_DELTA_MAX = "docbin.delta_max"
META_PATCH = "docbin.patch_size"
META_INPUT = "docbin.input_size"
META_NORMALISATION = "docbin.normalisation"
META_VERSION = "docbin.version"
META_DESCRIPTION = "docbin.description"
#: Patches per network call (bounds the input buffer to about 5 MB).
PREDICT_CHUNK = 32
NORMALISATION = "gray = I/255 area-averaged over scale × scale blocks; planes as named"


def downscaled_patches(gray: np.ndarray, patch_size: int, input_size: int) -> np.ndarray:
    """The page's patches downscaled: uint8 array (patches, input_size, input_size).

    ``scale = patch_size / input_size``; the page (its first ``scale·⌊rows/scale⌋`` rows and
    columns) is area-averaged by ``scale`` × ``scale`` blocks (``cv2.INTER_AREA``), padded by
    symmetric reflection to the patch grid, and cut into squares in row-major order of the
    grid. Pages smaller than ``scale`` along an axis are reflected to ``scale`` first.
    """
    gray = np.asarray(gray)
    if gray.ndim != 2 or gray.dtype != np.uint8 or gray.size == 0:
        raise InputError(f"expected a non-empty 2-D uint8 page, got {gray.dtype} {gray.shape}")
    if patch_size % input_size:
        raise ModelError(f"patch size {patch_size} is not a multiple of the input size "
                         f"{input_size}")
    scale = patch_size // input_size
    grid = _surface.patch_grid_shape(gray.shape, patch_size)
    if gray.shape[0] < scale or gray.shape[1] < scale:
        gray = np.pad(gray, ((0, max(0, scale - gray.shape[0])),
                             (0, max(0, scale - gray.shape[1]))), mode="symmetric")
    rows, cols = gray.shape[0] // scale * scale, gray.shape[1] // scale * scale
    if scale == 1:
        small = np.ascontiguousarray(gray[:rows, :cols])
    else:
        small = cv2.resize(gray[:rows, :cols], (cols // scale, rows // scale),
                           interpolation=cv2.INTER_AREA)
    want = (grid[0] * input_size, grid[1] * input_size)
    if small.shape != want:
        small = np.pad(small, ((0, want[0] - small.shape[0]), (0, want[1] - small.shape[1])),
                       mode="symmetric")
    return np.ascontiguousarray(small.reshape(grid[0], input_size, grid[1], input_size)
                                .transpose(0, 2, 1, 3).reshape(-1, input_size, input_size))


def base_plane(base_z: np.ndarray, input_size: int) -> np.ndarray:
    """The base control net resized bilinearly (``cv2.INTER_LINEAR``) to a square plane."""
    return cv2.resize(np.asarray(base_z, np.float32), (input_size, input_size),
                      interpolation=cv2.INTER_LINEAR)


def build_inputs(small_patches: np.ndarray, channels, scalars: dict,
                 base: np.ndarray) -> np.ndarray:
    """Network input float32 (patches, channels, s, s).

    ``small_patches``: uint8 (patches, s, s) from :func:`downscaled_patches`; ``scalars``
    maps each plane channel to a float or an array with one value per patch; ``base``:
    :func:`base_plane`.
    """
    count, size = small_patches.shape[0], small_patches.shape[1]
    x = np.empty((count, len(channels), size, size), np.float32)
    for k, name in enumerate(channels):
        if name == "gray":
            np.multiply(small_patches, np.float32(1.0 / 255.0), out=x[:, k])
        elif name == "base_z":
            x[:, k] = base
        elif name in scalars:
            value = np.broadcast_to(np.asarray(scalars[name], np.float32).ravel(), (count,))
            x[:, k] = value[:, None, None]
        else:
            raise ModelError(f"the network reads a channel {name!r} this docbin cannot build "
                             f"(known: {', '.join(CHANNELS)})")
    return x


class SurfaceModel:
    """A surface network (ONNX): float32 ``[N, C, s, s]`` → Δz ``[N, n, n]``.

    The metadata is checked on load (:class:`docbin.errors.ModelError` when it is missing
    or does not match what this runtime builds): kind, channels (each one of
    :data:`CHANNELS`), n, degree, clamped uniform knots, base net, δ_max, patch and input
    sizes.
    """

    def __init__(self, source, name: str | None = None, threads: int = 2):
        import onnxruntime

        self.name = name or str(source)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        data = source.read_bytes() if hasattr(source, "read_bytes") else source
        try:
            self.session = onnxruntime.InferenceSession(
                data, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ModelError(f"{self.name}: cannot load the surface network with "
                             f"onnxruntime ({first}); is it an ONNX file?") from error
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata = props
        if props.get(META_KIND) != KIND:
            raise ModelError(f"{self.name}: not a docbin surface network "
                             f"({META_KIND} = {props.get(META_KIND)!r})")
        try:
            self.channels = tuple(json.loads(props[META_CHANNELS]))
            self.n = int(props[META_N])
            self.degree = int(props[META_DEGREE])
            knots = np.asarray(json.loads(props[META_KNOTS]), np.float64)
            self.base_z = np.asarray(json.loads(props[META_BASE_Z]), np.float64)
            self.delta_max = float(props[META_DELTA_MAX])
            self.patch_size = int(props[META_PATCH])
            self.input_size = int(props[META_INPUT])
        except (KeyError, ValueError, TypeError) as error:
            raise ModelError(f"{self.name}: surface network metadata missing or unreadable "
                             f"({error})") from error
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown or not self.channels:
            raise ModelError(f"{self.name}: unknown input channels {unknown} (this docbin "
                             f"builds {', '.join(CHANNELS)})")
        if self.patch_size != _surface.PATCH_SIZE:
            raise ModelError(f"{self.name}: patch size {self.patch_size}, this docbin cuts "
                             f"{_surface.PATCH_SIZE}")
        if self.input_size < 1 or self.patch_size % self.input_size:
            raise ModelError(f"{self.name}: input size {self.input_size} does not divide the "
                             f"patch size {self.patch_size}")
        try:
            expected = _surface.clamped_uniform_knots(self.n, self.degree)
        except ValueError as error:
            raise ModelError(f"{self.name}: {error}") from error
        if knots.shape != expected.shape or not np.allclose(knots, expected, atol=1e-12):
            raise ModelError(f"{self.name}: knots are not the clamped uniform knots of n = "
                             f"{self.n}, degree {self.degree}")
        if self.base_z.shape != (self.n, self.n):
            raise ModelError(f"{self.name}: base net of shape {self.base_z.shape}, expected "
                             f"({self.n}, {self.n})")
        if not 0.0 < self.delta_max <= 1.0:
            raise ModelError(f"{self.name}: δ_max {self.delta_max} outside (0, 1]")
        inputs = self.session.get_inputs()
        shape = inputs[0].shape
        if len(shape) != 4 or shape[1] != len(self.channels) or \
                shape[2] != self.input_size or shape[3] != self.input_size:
            raise ModelError(f"{self.name}: input shape {shape} does not match "
                             f"{len(self.channels)} channels of {self.input_size}²")
        self.description = props.get(META_DESCRIPTION, "")
        self._input = inputs[0].name
        self.base = base_plane(self.base_z, self.input_size)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Δz (float32, (N, n, n)) for inputs ``x`` (float32, (N, C, s, s))."""
        if len(x) == 0:
            return np.zeros((0, self.n, self.n), np.float32)
        out = self.session.run(None, {self._input: np.ascontiguousarray(x, np.float32)})[0]
        return out.reshape(-1, self.n, self.n)


_cache: dict = {}
_cache_lock = threading.Lock()


def load_surface_model(path=None) -> SurfaceModel:
    """The surface network at ``path``, or the one shipped in the package
    (``docbin/models/surface.onnx``); loaded once per path."""
    from importlib.resources import files
    from pathlib import Path

    if path is None:
        source = files("docbin") / "models" / "surface.onnx"
        key, name = "<shipped>", "docbin/models/surface.onnx"
        if not source.is_file():
            raise ModelError("the shipped surface network docbin/models/surface.onnx is "
                             "missing from this installation")
    else:
        source = Path(path)
        key, name = str(source.resolve()), str(path)
        if not source.is_file():
            raise ModelError(f"surface network not found: {path}")
    with _cache_lock:
        model = _cache.get(key)
        if model is None:
            model = _cache[key] = SurfaceModel(source, name)
    return model


def surface_factor(gray: np.ndarray, page, factor: float, *, model, balance: float = 0.5,
                   record: bool = False, blocks=None):
    """The decision factor of the ``surface`` step.

    Parameters
    ----------
    gray : ndarray
        2-D uint8 page (rows, cols).
    page : docbin.method.stats.PageStats
        The page's T_I, B_I, K (``.t``, ``.b``).
    factor : float
        The classical page factor f = logistic(b, t) (returned unchanged when the network
        leaves the surface as it is).
    model : SurfaceModel
        From :func:`load_surface_model` (anything with its attributes and ``predict``).
    balance : float
        In [0, 1]: ``alpha = 1 − balance`` (weight of 1 − FM), ``beta = balance`` (weight
        of NRM, which punishes missed ink); 0.5 gives α = β = 0.5.
    record : bool
        Also return a small picture of the f field (``info["f_field"]``, float32, 16 px per
        patch) for ``--explain``.
    blocks : docbin.method.stats.BlockHistograms, optional
        Per-patch histograms of the B_I and T_I samples (blocks of 512 px,
        :func:`docbin.method.stats.measure_page_blocks`): patches are then read at their own
        (b, t); without them at the page's.

    Returns
    -------
    (factor, info)
        ``factor`` is the float ``factor`` itself when every Δz is exactly 0, else a
        :class:`docbin.method.surface.PatchFieldRows` (``rows(r0, r1)`` → float32 rows).
        ``info``: ``grid`` (patch rows, cols), ``delta_z_rms`` and ``f`` per patch (nested
        lists), ``f_min``/``f_max``, ``max_change`` = max |f_patch − f|, ``balance``,
        ``delta_z_mean`` (the mean offset net over the patches, n × n) and the patches'
        points ``b_patch``/``t_patch``.
    """
    if not 0.0 <= float(balance) <= 1.0:
        raise InputError(f"balance must lie in [0, 1], got {balance}")
    grid = _surface.patch_grid_shape(gray.shape, model.patch_size)
    if blocks is not None:
        if blocks.size != model.patch_size or blocks.contour.shape[:2] != grid:
            raise InputError(f"block histograms of {blocks.size} px on a "
                             f"{blocks.contour.shape[:2]} grid; the surface step needs "
                             f"{model.patch_size} px on {grid}")
        b_patch, t_patch, weight = _surface.patch_statistics(page.b, page.t, blocks.contour,
                                                             blocks.ink)
    else:
        b_patch = np.full(grid, page.b)
        t_patch = np.full(grid, page.t)
        weight = np.zeros(grid)
    small = downscaled_patches(gray, model.patch_size, model.input_size)
    scalars = {"b_page": page.b, "t_page": page.t, "alpha": 1.0 - float(balance),
               "beta": float(balance), "b_patch": b_patch, "t_patch": t_patch,
               "f_page": float(factor), "edge_weight": weight}
    # in chunks of patches: the input of a whole large page would be 164 kB per patch
    delta_z = np.concatenate([
        model.predict(build_inputs(small[k:k + PREDICT_CHUNK], model.channels,
                                   {key: value if np.ndim(value) == 0 else
                                    np.ravel(value)[k:k + PREDICT_CHUNK]
                                    for key, value in scalars.items()}, model.base))
        for k in range(0, len(small), PREDICT_CHUNK)])
    rms = np.sqrt(np.mean(np.square(delta_z, dtype=np.float64), axis=(1, 2))).reshape(grid)
    if not np.any(delta_z):
        f_patch = np.full(grid, float(factor))
        out = float(factor)
    else:
        f_patch = _surface.patch_factors(page.b, page.t, delta_z, b_patch, t_patch,
                                         model.degree)
        out = _surface.PatchFieldRows(f_patch, gray.shape, model.patch_size)
    info = {"grid": list(grid), "balance": float(balance),
            "delta_z_rms": np.round(rms, 6).tolist(),
            "f": np.round(f_patch, 6).tolist(),
            "f_min": float(f_patch.min()), "f_max": float(f_patch.max()),
            "max_change": float(np.max(np.abs(f_patch - float(factor)))),
            "delta_z_mean": np.round(delta_z.mean(axis=0, dtype=np.float64), 6).tolist(),
            "b_patch": np.round(b_patch, 6).tolist(), "t_patch": np.round(t_patch, 6).tolist()}
    if record:
        picture = 16
        info["f_field"] = _surface.PatchFieldRows(
            f_patch, (grid[0] * picture, grid[1] * picture), picture).whole()
    return out, info
