"""OCR accuracy: Tesseract reads a page, its text is compared with a transcription.

The library side of ``docbin benchmark --ocr``; nothing here prints.

- :func:`check_tesseract` fails early, naming the package to install, when the
  ``tesseract`` program or its language data is missing.
- :func:`tesseract_text` runs Tesseract on a gray or binary page held in memory.
- :func:`character_error_rate` is the edit distance between the text read and the
  transcription over the transcription's length, in per cent:
  ``CER = 100 · lev(reference, hypothesis) / len(reference)``, where ``lev`` is the
  Levenshtein distance (insertions, deletions and substitutions of one character, each
  costing 1) computed by ``rapidfuzz``. Both texts are compared after :func:`normalise`.
  CER is not bounded by 100: a hypothesis much longer than the reference (noise read as
  letters) scores above it.
- :func:`transcription_path` says where a page's transcription lives in a benchmark
  collection: ``<collection>/txt/<NAME>.txt`` beside ``img/`` and ``gt/``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docbin.errors import DocbinError, ExitCode, InputError, MissingDependencyError

#: The Debian/Ubuntu package that provides the ``tesseract`` program.
TESSERACT_PACKAGE = "tesseract-ocr"
#: Score keys added to a page's scores, in display order: the CER of the texts with
#: whitespace collapsed, and the CER with case, punctuation and symbols ignored too.
OCR_METRICS = ("cer", "cer_folded")
_WHITESPACE = re.compile(r"\s+")


class OcrError(DocbinError):
    """Tesseract failed on a page (it crashed, timed out or could not read the image)."""

    exit_code = ExitCode.failed_pages


@dataclass(frozen=True)
class OcrSettings:
    """How Tesseract is run.

    Attributes
    ----------
    language : str
        Tesseract language(s), ``+``-separated as for ``tesseract -l`` (e.g. ``eng+deu``).
    psm : int
        Page segmentation mode; 6 reads the page as one block of text, which suits
        pages of running text and does not depend on Tesseract's layout analysis.
    dpi : int
        Resolution told to Tesseract (the benchmark pages are about 300 dpi scans).
    timeout : float
        Seconds allowed per page.
    """

    language: str = "eng"
    psm: int = 6
    dpi: int = 300
    timeout: float = 600.0

    def __post_init__(self) -> None:
        if not self.language or not all(re.fullmatch(r"[A-Za-z0-9_]+", part)
                                        for part in self.language.split("+")):
            raise ValueError(f"language must be Tesseract language codes joined by '+', "
                             f"e.g. eng or eng+deu; got {self.language!r}")
        if not 0 <= self.psm <= 13:
            raise ValueError(f"psm must be a Tesseract page segmentation mode 0-13, "
                             f"got {self.psm!r}")
        if self.dpi <= 0 or self.timeout <= 0:
            raise ValueError(f"dpi and timeout must be > 0, got {self.dpi!r} and "
                             f"{self.timeout!r}")


def _tesseract() -> str:
    program = shutil.which("tesseract")
    if program is None:
        raise MissingDependencyError(
            f"OCR needs the tesseract program, which is not installed: install the "
            f"{TESSERACT_PACKAGE} package (apt-get install {TESSERACT_PACKAGE} "
            f"{TESSERACT_PACKAGE}-eng)")
    return program


def check_tesseract(language: str = "eng") -> None:
    """Fail early when Tesseract, its language data or rapidfuzz is missing.

    Raises
    ------
    MissingDependencyError
        With the package to install: ``tesseract-ocr``, ``tesseract-ocr-<lang>`` for a
        language without data, or the ``docbin[ocr]`` extra for rapidfuzz.
    """
    _levenshtein()
    program = _tesseract()
    try:
        listing = subprocess.run([program, "--list-langs"], capture_output=True, text=True,
                                 timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise MissingDependencyError(f"{program} --list-langs failed ({error}); reinstall "
                                     f"the {TESSERACT_PACKAGE} package") from None
    # The first line is a header ("List of available languages in ...:").
    installed = {line.strip() for line in listing.splitlines()[1:] if line.strip()}
    missing = [code for code in language.split("+") if code not in installed]
    if missing:
        packages = " ".join(f"{TESSERACT_PACKAGE}-{code}" for code in missing)
        raise MissingDependencyError(
            f"Tesseract has no language data for {', '.join(missing)}: install {packages} "
            f"(installed: {', '.join(sorted(installed)) or 'none'})")


def _environment() -> dict:
    env = dict(os.environ)
    # One OpenMP thread per Tesseract: pages (or benchmark workers) are the parallel unit,
    # and Tesseract's own threads only compete for the same cores.
    env.setdefault("OMP_THREAD_LIMIT", "1")
    return env


def tesseract_text(image: np.ndarray, settings: OcrSettings | None = None) -> str:
    """The text Tesseract reads on a page.

    Parameters
    ----------
    image : ndarray
        2-D uint8 page (gray, or binary with text 0 and background 255).
    settings : OcrSettings, optional
        Language, page segmentation mode, DPI and timeout.

    Raises
    ------
    MissingDependencyError
        ``tesseract`` is not installed.
    OcrError
        Tesseract failed or timed out on the page.
    """
    import cv2

    settings = settings or OcrSettings()
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a 2-D uint8 page, got dtype {image.dtype} and shape "
                         f"{image.shape}")
    program = _tesseract()
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise OcrError("could not encode the page as PNG for Tesseract")
    command = [program, "stdin", "stdout", "-l", settings.language,
               "--psm", str(settings.psm), "--dpi", str(settings.dpi)]
    try:
        done = subprocess.run(command, input=png.tobytes(), capture_output=True,
                              timeout=settings.timeout, env=_environment(), check=False)
    except subprocess.TimeoutExpired:
        raise OcrError(f"Tesseract took longer than {settings.timeout:g} s on the page") \
            from None
    except OSError as error:
        raise OcrError(f"could not run {program}: {error}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrError(f"Tesseract failed (exit {done.returncode}): "
                       f"{message[-1] if message else 'no message'}")
    return done.stdout.decode("utf-8", "replace")


def normalise(text: str, *, fold: bool = False) -> str:
    """Text as CER compares it.

    Unicode NFC, every run of whitespace (line breaks included) replaced by one space,
    leading and trailing whitespace removed. With ``fold``: compatibility forms unified
    (NFKC: ``ſ`` → ``s``, ligatures split), case folded, and punctuation and symbols
    (Unicode categories P* and S*) removed before whitespace is collapsed.
    """
    text = unicodedata.normalize("NFKC" if fold else "NFC", text)
    if fold:
        text = "".join(char for char in text.casefold()
                       if unicodedata.category(char)[0] not in "PS")
    return _WHITESPACE.sub(" ", text).strip()


@functools.cache
def _levenshtein():
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError:
        raise MissingDependencyError("OCR scores need rapidfuzz: pip install "
                                     "'docbin[ocr]'") from None
    return Levenshtein


def character_error_rate(hypothesis: str, reference: str, *, fold: bool = False) -> float:
    """Character error rate of ``hypothesis`` against ``reference``, in per cent.

    ``100 · lev(r, h) / len(r)`` with ``r``, ``h`` the texts after
    :func:`normalise` (``fold`` passed on) and ``lev`` the Levenshtein distance.

    Raises
    ------
    ValueError
        The reference is empty after normalisation.
    """
    reference = normalise(reference, fold=fold)
    hypothesis = normalise(hypothesis, fold=fold)
    if not reference:
        raise ValueError("the reference text is empty; CER is undefined")
    return 100.0 * _levenshtein().distance(reference, hypothesis) / len(reference)


def ocr_scores(hypothesis: str, reference: str) -> dict[str, float]:
    """``{"cer": …, "cer_folded": …}`` of a text read against its transcription."""
    return {"cer": character_error_rate(hypothesis, reference),
            "cer_folded": character_error_rate(hypothesis, reference, fold=True)}


def transcription_path(image: Path) -> Path:
    """Where the transcription of a benchmark page ``<collection>/img/<NAME>.*`` lives:
    ``<collection>/txt/<NAME>.txt``."""
    image = Path(image)
    return image.parent.parent / "txt" / f"{image.stem}.txt"


def read_transcription(path: Path) -> str:
    """A transcription file (UTF-8).

    Raises
    ------
    InputError
        The file cannot be read, is not UTF-8, or holds no text.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not UTF-8 text ({error.reason} at byte "
                         f"{error.start})") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    if not normalise(text):
        raise InputError(f"{path} holds no text; a transcription must not be empty")
    return text
