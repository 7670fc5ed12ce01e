"""The hybrid model at inference: locate it, check it, run it with onnxruntime.

A small CNN, trained with PyTorch and exported to ONNX, predicts per page the adjustments
Δz of the decision surface's control net (METHOD.md §3). Only onnxruntime, NumPy and
OpenCV run here; no deep-learning framework is imported. The exact interface a model
must follow (input and output names and shapes, the channel list, every metadata key and
its JSON encoding) is written down in docs/MODEL_CONTRACT.md; this module is its
reference implementation, and training code should build its inputs with
:func:`select_patches` and :func:`build_input` so that training and inference see the
same tensors.

Flow for one page: page statistics (b, t) → :func:`select_patches` on the strong-edge
mask → :func:`build_input` → one onnxruntime run → Δz = mean over patches →
``f = S'(b, t)`` (:meth:`ModelMetadata.page_surface`) → the unchanged decision rule.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import bands as _bands
from .errors import ModelError
from .surface import ADJUSTED_RANGE, BSplineSurface

#: Version of docs/MODEL_CONTRACT.md this runtime reads.
CONTRACT_VERSION = 1
#: Name of the graph's only input, float32 [N, C, S, S].
INPUT_NAME = "input"
#: Name of the graph output read by the runtime, float32 [N, n, n].
OUTPUT_NAME = "delta_z"
#: Environment variable naming a model file.
ENV_VAR = "DOCBIN_MODEL"
#: File name of the model shipped inside the package (``docbin/models/``).
PACKAGED_NAME = "hybrid.onnx"
#: Prefix of every metadata key.
PREFIX = "docbin."

#: Every input channel this runtime can build, with the formula it uses (S = patch size).
#: A model lists the channels it was trained with, in order, and states their formulas
#: in ``docbin.normalisation``; they must match these word for word.
CHANNELS = {
    "gray": "I/255",
    "z": "cv2.resize(z, (S, S), interpolation=cv2.INTER_LINEAR)",
    "b": "B_I/255",
    "t": "T_I/255",
    "alpha": "1 - balance",
    "beta": "balance",
    "ratio": "clip(I/max(L_m, 1), 0, 2)/2",
    "candidate": "float(I < L_a)",
}
#: The six channels of METHOD.md §3, in this order, at the start of every model's list.
BASE_CHANNELS = ("gray", "z", "b", "t", "alpha", "beta")
#: Kinds of base surface (docs/MODEL_CONTRACT.md, "The decision factor").
BASES = ("logistic", "spline")

_REQUIRED = ("contract", "n", "degree", "knots", "base", "z", "delta_max", "patch_size",
             "max_patches", "channels", "normalisation", "docbin_version", "training_data")
_OPTIONAL = ("offset", "description")


# --- metadata ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ModelMetadata:
    """Everything the runtime needs to know about a model, from its ``metadata_props``.

    Attributes mirror the keys of docs/MODEL_CONTRACT.md without the ``docbin.`` prefix.
    """

    n: int
    degree: int
    knots: np.ndarray
    base: str
    z: np.ndarray
    offset: np.ndarray | None
    delta_max: float
    patch_size: int
    max_patches: int
    channels: tuple[str, ...]
    normalisation: dict
    docbin_version: str
    training_data: str
    description: str = ""
    contract: int = CONTRACT_VERSION

    def base_surface(self) -> BSplineSurface:
        """The surface the model adjusts, unclipped.

        ``base = "logistic"``: ``logistic(b, t) + Σ offset_ij N_i(b) N_j(t)``;
        ``base = "spline"``: ``Σ z_ij N_i(b) N_j(t)``.
        """
        if self.base == "logistic":
            return BSplineSurface(self.offset, self.knots, self.degree, base="logistic")
        return BSplineSurface(self.z, self.knots, self.degree, base="none")

    def page_surface(self, delta_z) -> BSplineSurface:
        """S' = base + Σ Δz_ij N_i(b) N_j(t), clipped to [0.05, 1] (METHOD.md §2)."""
        return self.base_surface().adjusted(delta_z, clip=ADJUSTED_RANGE)

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` of this metadata (see :func:`encode_metadata`)."""
        return encode_metadata(
            n=self.n, degree=self.degree, knots=self.knots, base=self.base, z=self.z,
            offset=self.offset, delta_max=self.delta_max, patch_size=self.patch_size,
            max_patches=self.max_patches, channels=self.channels,
            docbin_version=self.docbin_version, training_data=self.training_data,
            description=self.description)


def encode_metadata(*, n: int, degree: int, knots, base: str, z, delta_max: float,
                    channels, docbin_version: str, training_data: str, offset=None,
                    patch_size: int = 512, max_patches: int = 8,
                    description: str = "") -> dict[str, str]:
    """The ``metadata_props`` a model must carry: key → JSON text.

    Every value is one JSON document (numbers as JSON numbers, strings quoted, nets as
    nested lists with rows along b). ``docbin.normalisation`` is filled in from
    :data:`CHANNELS`. The result is checked with :func:`parse_metadata`, so an
    inconsistent set of arguments raises :class:`~docbin.errors.ModelError` here, at
    export time, rather than at inference.
    """
    channels = list(channels)
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise ModelError(f"unknown input channel(s) {unknown}; this runtime builds "
                         f"{', '.join(CHANNELS)}")
    values = {
        "contract": CONTRACT_VERSION, "n": int(n), "degree": int(degree),
        "knots": [float(k) for k in np.asarray(knots).ravel()], "base": base,
        "z": np.asarray(z, np.float64).tolist(), "delta_max": float(delta_max),
        "patch_size": int(patch_size), "max_patches": int(max_patches), "channels": channels,
        "normalisation": {c: CHANNELS[c] for c in channels},
        "docbin_version": str(docbin_version), "training_data": str(training_data),
    }
    if offset is not None:
        values["offset"] = np.asarray(offset, np.float64).tolist()
    if description:
        values["description"] = str(description)
    props = {PREFIX + key: json.dumps(value) for key, value in values.items()}
    parse_metadata(props)
    return props


def _field(props: dict[str, str], key: str, source: str):
    try:
        return json.loads(props[PREFIX + key])
    except json.JSONDecodeError as error:
        raise ModelError(f"{source}: metadata {PREFIX}{key} is not valid JSON ({error.msg}); "
                         f"re-export the model following docs/MODEL_CONTRACT.md") from None


def _int_field(value, key: str, source: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelError(f"{source}: metadata {PREFIX}{key} must be an integer >= {minimum}, "
                         f"got {value!r}")
    return value


def _net_field(value, key: str, n: int, source: str) -> np.ndarray:
    try:
        net = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        net = np.zeros(0)
    if net.shape != (n, n) or not np.isfinite(net).all():
        got = net.shape if net.size else type(value).__name__
        raise ModelError(f"{source}: metadata {PREFIX}{key} must be an {n} × {n} net of finite "
                         f"numbers (n = {n}), got {got}")
    return net


def parse_metadata(props: dict[str, str], source: str = "model") -> ModelMetadata:
    """Check a model's ``metadata_props`` field by field and parse them.

    Raises
    ------
    ModelError
        Naming the first key that is missing or does not match what this runtime
        expects, and how to fix it.
    """
    missing = [PREFIX + key for key in _REQUIRED if PREFIX + key not in props]
    if missing:
        raise ModelError(f"{source}: not a docbin hybrid model, metadata {', '.join(missing)} "
                         f"missing (see docs/MODEL_CONTRACT.md)")
    unknown = sorted(k for k in props if k.startswith(PREFIX)
                     and k[len(PREFIX):] not in _REQUIRED + _OPTIONAL)
    if unknown:
        raise ModelError(f"{source}: unknown metadata {', '.join(unknown)}; the model may need "
                         f"a newer docbin (pip install -U docbin)")
    get = {key: _field(props, key, source) for key in _REQUIRED + _OPTIONAL
           if PREFIX + key in props}

    contract = get["contract"]
    if contract != CONTRACT_VERSION:
        raise ModelError(f"{source}: model follows contract {contract!r}, this docbin reads "
                         f"contract {CONTRACT_VERSION}; install the docbin version the model "
                         f"was made for ({get['docbin_version']!r}) or re-export it")
    n = _int_field(get["n"], "n", source, 2)
    degree = _int_field(get["degree"], "degree", source, 1)
    if n < degree + 1:
        raise ModelError(f"{source}: metadata {PREFIX}n = {n} is too small for degree {degree} "
                         f"(needs n >= {degree + 1})")
    knots = np.asarray(get["knots"], dtype=np.float64) if isinstance(get["knots"], list) \
        else np.zeros(0)
    if knots.shape != (n + degree + 1,):
        raise ModelError(f"{source}: metadata {PREFIX}knots must list n + degree + 1 = "
                         f"{n + degree + 1} numbers, got {knots.size}")
    if (not np.isfinite(knots).all() or np.any(np.diff(knots) < 0) or knots[degree] != 0.0
            or knots[n] != 1.0):
        raise ModelError(f"{source}: metadata {PREFIX}knots must be non-decreasing with the "
                         f"domain [knots[degree], knots[n]] = [0, 1], got {knots.tolist()}")
    base = get["base"]
    if base not in BASES:
        raise ModelError(f"{source}: metadata {PREFIX}base must be one of "
                         f"{', '.join(map(repr, BASES))}, got {base!r}")
    z = _net_field(get["z"], "z", n, source)
    offset = None
    if base == "logistic":
        if "offset" not in get:
            raise ModelError(f"{source}: metadata {PREFIX}offset missing: base 'logistic' needs "
                             f"the {n} × {n} offset net (zeros for the plain logistic)")
        offset = _net_field(get["offset"], "offset", n, source)
    elif "offset" in get:
        raise ModelError(f"{source}: metadata {PREFIX}offset is only used with base "
                         f"'logistic'; with base 'spline' the base net is {PREFIX}z")
    delta_max = get["delta_max"]
    if isinstance(delta_max, bool) or not isinstance(delta_max, (int, float)) \
            or not 0 < delta_max <= 1:
        raise ModelError(f"{source}: metadata {PREFIX}delta_max must be a number in (0, 1], "
                         f"got {delta_max!r}")
    patch_size = _int_field(get["patch_size"], "patch_size", source, 16)
    max_patches = _int_field(get["max_patches"], "max_patches", source, 1)
    channels = get["channels"]
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise ModelError(f"{source}: metadata {PREFIX}channels must be a list of channel "
                         f"names, got {channels!r}")
    if tuple(channels[:len(BASE_CHANNELS)]) != BASE_CHANNELS:
        raise ModelError(f"{source}: metadata {PREFIX}channels must start with "
                         f"{list(BASE_CHANNELS)} (METHOD.md §3), got {channels}")
    unknown_channels = [c for c in channels if c not in CHANNELS]
    if unknown_channels:
        raise ModelError(f"{source}: input channel(s) {unknown_channels} unknown to this "
                         f"runtime (it builds {', '.join(CHANNELS)}); upgrade docbin")
    if len(set(channels)) != len(channels):
        raise ModelError(f"{source}: metadata {PREFIX}channels lists a channel twice: "
                         f"{channels}")
    normalisation = get["normalisation"]
    if not isinstance(normalisation, dict) or set(normalisation) != set(channels):
        raise ModelError(f"{source}: metadata {PREFIX}normalisation must give one formula per "
                         f"channel of {PREFIX}channels {channels}")
    for name in channels:
        if normalisation[name] != CHANNELS[name]:
            raise ModelError(f"{source}: channel {name!r} was trained as "
                             f"{normalisation[name]!r}, this runtime builds {CHANNELS[name]!r}")
    for key in ("docbin_version", "training_data", "description"):
        if key in get and not isinstance(get[key], str):
            raise ModelError(f"{source}: metadata {PREFIX}{key} must be a JSON string")
    return ModelMetadata(
        n=n, degree=degree, knots=knots, base=base, z=z, offset=offset,
        delta_max=float(delta_max), patch_size=patch_size, max_patches=max_patches,
        channels=tuple(channels), normalisation=dict(normalisation),
        docbin_version=get["docbin_version"], training_data=get["training_data"],
        description=get.get("description", ""), contract=contract)


# --- locating the model --------------------------------------------------------------------


def _packaged_models():
    """The ``models`` folder inside the installed package (a Traversable)."""
    from importlib.resources import files

    return files("docbin").joinpath("models")


def locate_model(path=None, *, required: bool = True):
    """Where the hybrid model is: explicit ``path`` > ``$DOCBIN_MODEL`` > packaged model.

    The packaged model is ``docbin/models/hybrid.onnx`` found with
    :mod:`importlib.resources`, so it works from any install (wheel, editable, zip);
    without ``hybrid.onnx``, a single ``*.onnx`` in that folder is used.

    Returns
    -------
    pathlib.Path or importlib.resources.abc.Traversable or None
        None only when nothing is installed and ``required`` is false.

    Raises
    ------
    ModelError
        When the named file does not exist, or (``required``) no model is installed.
    """
    if path is not None and str(path) != "":
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise ModelError(f"model file not found: {path}")
        return candidate
    env = os.environ.get(ENV_VAR, "")
    if env:
        candidate = Path(env).expanduser()
        if not candidate.is_file():
            raise ModelError(f"{ENV_VAR}={env} does not name a model file; fix or unset it")
        return candidate
    folder = _packaged_models()
    found = []
    if folder.is_dir():
        found = sorted((entry for entry in folder.iterdir()
                        if entry.name.endswith(".onnx") and entry.is_file()),
                       key=lambda entry: entry.name)
    for entry in found:
        if entry.name == PACKAGED_NAME:
            return entry
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise ModelError(f"several models in the package ({', '.join(e.name for e in found)}) "
                         f"and none named {PACKAGED_NAME}; choose one with --model PATH")
    if not required:
        return None
    raise ModelError(f"no hybrid model is installed: pass --model PATH (Python: "
                     f"options.model), or set {ENV_VAR}=/path/to/model.onnx, or install a "
                     f"docbin release that ships docbin/models/{PACKAGED_NAME}; "
                     f"method 'classical' needs no model")


# --- patches and input channels ------------------------------------------------------------


def _window_starts(length: int, size: int) -> np.ndarray:
    if length <= size:
        return np.zeros(1, np.int64)
    starts = np.arange(0, length - size + 1, size // 2)
    if starts[-1] != length - size:
        starts = np.append(starts, length - size)
    return starts


def select_patches(edges: np.ndarray, size: int = 512, count: int = 8) -> np.ndarray:
    """Up to ``count`` non-overlapping size × size windows with the most strong-edge pixels.

    Candidates are the windows whose top-left corners lie on a grid of stride ``size // 2``
    along each axis, plus the windows flush with the bottom and right borders (so every
    pixel is inside some candidate); a window is clipped to the page where the page is
    shorter than ``size``. Each candidate's edge count is read from an integral image of
    the edge mask. The windows are picked greedily in order of decreasing count (ties:
    smaller row, then smaller column), skipping any that overlaps a window already picked,
    until ``count`` are picked or none is left. Deterministic, and O(candidates × count).
    A page smaller than one window gives one window: the whole page.

    The half-window grid is a compromise: a stride of ``size`` would tile the page but
    often cut a text block in two, a stride of 1 would cost a pass per pick over
    every position for a small gain in edge count.

    Parameters
    ----------
    edges : ndarray of bool, shape (rows, cols)
        The strong-edge mask E of METHOD.md §1.1.

    Returns
    -------
    ndarray of int64, shape (P, 4)
        Boxes ``(row0, col0, rows, cols)`` inside the page, in the order picked.
    """
    edges = np.asarray(edges)
    if edges.ndim != 2 or edges.size == 0:
        raise ValueError(f"expected a non-empty 2-D edge mask, got shape {edges.shape}")
    if size < 1 or count < 1:
        raise ValueError(f"size and count must be >= 1, got {size}, {count}")
    rows, cols = edges.shape
    height, width = min(size, rows), min(size, cols)
    row0, col0 = np.meshgrid(_window_starts(rows, size), _window_starts(cols, size),
                             indexing="ij")
    row0, col0 = row0.ravel(), col0.ravel()
    # the integral image of the edge mask, only at the rows and columns where windows start
    # and end: column sums of the strips between those rows (no page-sized array, and no
    # copy of a bool mask), accumulated down the page and along each sampled row
    mask = edges.view(np.uint8) if edges.dtype == bool else edges.astype(np.uint8)
    at_rows = np.unique(np.concatenate([row0, row0 + height]))
    at_cols = np.unique(np.concatenate([col0, col0 + width]))
    integral = np.zeros((at_rows.size, at_cols.size), np.int64)
    above = np.zeros(cols + 1, np.int64)  # column prefix of the edge count above the row
    previous = 0
    for i, r in enumerate(at_rows.tolist()):
        if r > previous:
            strip = cv2.reduce(mask[previous:r], 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
            above[1:] += np.cumsum(strip.ravel(), dtype=np.int64)
            previous = r
        integral[i] = above[at_cols]
    r_top, r_bottom = np.searchsorted(at_rows, row0), np.searchsorted(at_rows, row0 + height)
    c_left, c_right = np.searchsorted(at_cols, col0), np.searchsorted(at_cols, col0 + width)
    totals = (integral[r_bottom, c_right] - integral[r_top, c_right]
              - integral[r_bottom, c_left] + integral[r_top, c_left])
    order = np.lexsort((col0, row0, -totals))
    row0, col0 = row0[order], col0[order]
    available = np.ones(order.size, bool)
    picked = []
    while len(picked) < count and available.any():
        first = int(np.argmax(available))
        r, c = int(row0[first]), int(col0[first])
        picked.append((r, c, height, width))
        overlaps = (np.abs(row0 - r) < height) & (np.abs(col0 - c) < width)
        available &= ~overlaps
    return np.array(picked, dtype=np.int64).reshape(-1, 4)


def crop_patch(array: np.ndarray, box, size: int) -> np.ndarray:
    """The box's crop of a 2-D array, padded to size × size by reflection when smaller.

    Padding goes below and to the right, ``cv2.BORDER_REFLECT_101`` (``np.pad`` mode
    ``"reflect"``: the edge row is not repeated; a 1-pixel side is repeated).
    """
    r, c, h, w = (int(v) for v in box)
    crop = array[r:r + h, c:c + w]
    if h < size or w < size:
        crop = cv2.copyMakeBorder(np.ascontiguousarray(crop), 0, size - h, 0, size - w,
                                  cv2.BORDER_REFLECT_101)
    return crop


def build_input(gray: np.ndarray, boxes: np.ndarray, channels, *, z: np.ndarray, b: float,
                t: float, balance: float, size: int = 512, local_median: np.ndarray | None = None,
                local_mean: np.ndarray | None = None) -> np.ndarray:
    """The network input: float32 ``[P, C, size, size]``, channels exactly as listed.

    Per patch (I = the gray patch, L_m / L_a = the page's local median / mean cropped
    and padded the same way):

    - ``gray``: I / 255;
    - ``z``: the n × n control net resized bilinearly to size × size
      (``cv2.resize(z, (size, size), interpolation=cv2.INTER_LINEAR)``, float32);
    - ``b``, ``t``: constant planes B_I/255, T_I/255;
    - ``alpha``, ``beta``: constant planes ``1 − balance`` and ``balance`` (balance → 1
      keeps faint strokes: more NRM weight β; → 0 a cleaner background: more FM weight α);
    - ``ratio``: ``clip(I / max(L_m, 1), 0, 2) / 2``;
    - ``candidate``: 1 where ``I < L_a`` else 0.
    """
    if not 0.0 <= balance <= 1.0:
        raise ValueError(f"balance must lie in [0, 1], got {balance!r}")
    channels = tuple(channels)
    if "ratio" in channels and local_median is None:
        raise ValueError("channel 'ratio' needs the local median")
    if "candidate" in channels and local_mean is None:
        raise ValueError("channel 'candidate' needs the local mean")
    boxes = np.asarray(boxes).reshape(-1, 4)
    out = np.empty((boxes.shape[0], len(channels), size, size), np.float32)
    constants = {"b": b, "t": t, "alpha": 1.0 - balance, "beta": balance}
    # the local statistics of all patches first, on all threads: a statistic computed where
    # it is read (threshold.WindowedField) filters each patch's window here
    crops = {}
    for name, field_ in (("ratio", local_median), ("candidate", local_mean)):
        if name in channels:
            crops[name] = _bands.map_bands(lambda box, f=field_: crop_patch(f, box, size),
                                           list(boxes), _bands.thread_count(None))
    z_plane = None
    for p, box in enumerate(boxes):
        patch = crop_patch(gray, box, size).astype(np.float32)
        for k, name in enumerate(channels):
            if name == "gray":
                out[p, k] = patch / np.float32(255.0)
            elif name == "z":
                if z_plane is None:
                    z_plane = cv2.resize(np.asarray(z, np.float32), (size, size),
                                         interpolation=cv2.INTER_LINEAR)
                out[p, k] = z_plane
            elif name in constants:
                out[p, k] = np.float32(constants[name])
            elif name == "ratio":
                median = crops["ratio"][p].astype(np.float32)
                out[p, k] = np.clip(patch / np.maximum(median, np.float32(1.0)), 0, 2) / 2
            elif name == "candidate":
                mean = crops["candidate"][p].astype(np.float32)
                out[p, k] = patch < mean
            else:
                raise ValueError(f"unknown input channel {name!r}")
    return out


# --- the session ---------------------------------------------------------------------------


@dataclass
class Prediction:
    """What the model said about one page.

    Attributes
    ----------
    delta_z : ndarray, shape (n, n)
        The page's adjustment: the mean of ``per_patch`` over the patches.
    per_patch : ndarray, shape (P, n, n)
        Δz of each patch (clipped to [−δ_max, δ_max]).
    boxes : ndarray of int, shape (P, 4)
        The patches, ``(row0, col0, rows, cols)`` in page pixels.
    alpha, beta : float
        The target-metric weights fed to the model.
    """

    delta_z: np.ndarray
    per_patch: np.ndarray
    boxes: np.ndarray
    alpha: float
    beta: float


def _describe_source(source) -> str:
    return str(source)


class HybridModel:
    """One ONNX model file with its checked metadata and one reusable session.

    The onnxruntime session is created on first use, with the CPU execution provider,
    ``intra_op_num_threads = threads`` (0: onnxruntime's choice) and sequential
    execution, and then reused for every page. :func:`load_model` keeps one instance
    per file and thread count.
    """

    def __init__(self, source, threads: int = 0):
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads!r}")
        self.source = source
        self.threads = int(threads)
        self._session = None
        self._metadata: ModelMetadata | None = None
        self._batch_one = False
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return _describe_source(self.source)

    @property
    def session(self):
        """The onnxruntime InferenceSession (created once, on first access)."""
        with self._lock:
            if self._session is None:
                self._session = self._create_session()
            return self._session

    def _create_session(self):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: warnings would clutter the CLI
        # no busy-waiting between runs: the idle pool threads would spin on the cores the
        # statistics and the median filter use right after the model
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model = self.source if isinstance(self.source, (str, Path)) else self.source.read_bytes()
        try:
            return onnxruntime.InferenceSession(
                str(model) if isinstance(model, Path) else model, sess_options=options,
                providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelError(f"{self.name}: cannot load the model with onnxruntime "
                             f"({str(error).splitlines()[0] if str(error) else type(error).__name__})"
                             f"; is it an ONNX file?") from error

    @property
    def metadata(self) -> ModelMetadata:
        """The checked metadata (creates the session and checks the graph on first use)."""
        if self._metadata is None:
            session = self.session
            props = dict(session.get_modelmeta().custom_metadata_map)
            metadata = parse_metadata(props, self.name)
            self._check_graph(session, metadata)
            self._metadata = metadata
        return self._metadata

    def _check_graph(self, session, meta: ModelMetadata) -> None:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        expected = f"[N, {len(meta.channels)}, {meta.patch_size}, {meta.patch_size}]"
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
            raise ModelError(f"{self.name}: the graph must have one input named {INPUT_NAME!r}, "
                             f"it has {[i.name for i in inputs]}")
        node = inputs[0]
        if node.type != "tensor(float)":
            raise ModelError(f"{self.name}: input {INPUT_NAME!r} must be float32, got {node.type}")
        shape = list(node.shape)
        if len(shape) != 4:
            raise ModelError(f"{self.name}: input {INPUT_NAME!r} must be {expected}, got {shape}")
        for axis, want, what in ((1, len(meta.channels), "channel count (docbin.channels)"),
                                 (2, meta.patch_size, "patch size (docbin.patch_size)"),
                                 (3, meta.patch_size, "patch size (docbin.patch_size)")):
            if isinstance(shape[axis], int) and shape[axis] != want:
                raise ModelError(f"{self.name}: input {INPUT_NAME!r} has shape {shape} but the "
                                 f"metadata says {expected}: {what} differs")
        if isinstance(shape[0], int) and shape[0] != 1:
            raise ModelError(f"{self.name}: input batch axis must be dynamic (or 1), got "
                             f"{shape[0]}")
        self._batch_one = shape[0] == 1
        names = [o.name for o in outputs]
        if OUTPUT_NAME not in names:
            raise ModelError(f"{self.name}: the graph has no output named {OUTPUT_NAME!r} "
                             f"(outputs: {names})")
        out = outputs[names.index(OUTPUT_NAME)]
        if out.type != "tensor(float)":
            raise ModelError(f"{self.name}: output {OUTPUT_NAME!r} must be float32, got {out.type}")
        oshape = list(out.shape)
        if len(oshape) != 3 or any(isinstance(d, int) and d != meta.n for d in oshape[1:]):
            raise ModelError(f"{self.name}: output {OUTPUT_NAME!r} has shape {oshape}, the "
                             f"metadata says [N, {meta.n}, {meta.n}] (docbin.n = {meta.n})")

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the graph on a float32 ``[P, C, S, S]`` batch; returns Δz ``[P, n, n]``.

        Outputs are checked (shape, finite) and clipped to [−δ_max, δ_max], the bound the
        contract promises.
        """
        meta = self.metadata
        session = self.session
        chunks = [batch[i:i + 1] for i in range(batch.shape[0])] if self._batch_one else [batch]
        results = [session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(chunk)})[0]
                   for chunk in chunks]
        delta = np.concatenate(results, axis=0) if len(results) > 1 else results[0]
        delta = np.asarray(delta, np.float64)
        if delta.shape != (batch.shape[0], meta.n, meta.n):
            raise ModelError(f"{self.name}: output {OUTPUT_NAME!r} has shape {delta.shape}, "
                             f"expected {(batch.shape[0], meta.n, meta.n)}")
        if not np.isfinite(delta).all():
            raise ModelError(f"{self.name}: the model produced non-finite Δz")
        return np.clip(delta, -meta.delta_max, meta.delta_max)

    def predict(self, gray: np.ndarray, b: float, t: float, *, balance: float = 0.5,
                edges: np.ndarray | None = None, local_median: np.ndarray | None = None,
                local_mean: np.ndarray | None = None) -> Prediction:
        """Δz for a page: patches → input → session → mean over patches.

        Parameters
        ----------
        gray : ndarray of uint8, shape (rows, cols)
        b, t : float
            The page's B_I/255 and T_I/255.
        balance : float in [0, 1]
            α = 1 − balance, β = balance.
        edges : ndarray of bool, optional
            The strong-edge mask; computed when not given.
        local_median, local_mean : ndarray, optional
            L_m and L_a, needed only when the model lists ``ratio`` / ``candidate``.
        """
        meta = self.metadata
        if edges is None:
            from .stats import strong_edges
            edges, _ = strong_edges(gray)
        boxes = select_patches(edges, meta.patch_size, meta.max_patches)
        batch = build_input(gray, boxes, meta.channels, z=meta.z, b=b, t=t, balance=balance,
                            size=meta.patch_size, local_median=local_median,
                            local_mean=local_mean)
        per_patch = self.run(batch)
        return Prediction(per_patch.mean(axis=0), per_patch, boxes, 1.0 - balance, balance)

    def base_factor(self, b: float, t: float) -> float:
        """f before adjustment: the base surface at (b, t), clipped like S'."""
        return float(np.clip(self.metadata.base_surface()(b, t), *ADJUSTED_RANGE))

    def factor(self, b: float, t: float, delta_z) -> float:
        """The page's decision factor ``f = S'(b, t)``."""
        return float(self.metadata.page_surface(delta_z)(b, t))


_CACHE: dict[tuple, HybridModel] = {}
_CACHE_LOCK = threading.Lock()


def load_model(path=None, threads: int = 0) -> HybridModel:
    """The checked model for ``path`` (see :func:`locate_model`), one instance per file.

    The instance, and with it the onnxruntime session, is kept in a module-level cache
    keyed by the file (path, size, modification time) and the thread count, so a batch
    of pages, or repeated :func:`docbin.binarize` calls, load the model once.
    """
    source = locate_model(path)
    try:
        stat = Path(str(source)).stat()
        key = (str(Path(str(source)).resolve()), stat.st_size, stat.st_mtime_ns, threads)
    except OSError:  # a resource that is not a file on disk (zip install)
        key = (str(source), None, None, threads)
    with _CACHE_LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = HybridModel(source, threads)
            model.metadata  # noqa: B018 - check the model now, not on the first page
            _CACHE[key] = model
    return model


def clear_cache() -> None:
    """Forget every loaded model (their sessions are released)."""
    with _CACHE_LOCK:
        _CACHE.clear()
