"""Exceptions raised by docbin, each with the exit code the CLI maps it to.

Library code raises these; only :mod:`docbin.cli` turns them into a message and an
exit code. Messages say what went wrong and, where possible, how to fix it.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    ok = 0
    failed_pages = 1  # a batch finished but some pages failed
    usage = 2  # bad command line (Typer's own convention)
    input_error = 3  # missing, unreadable or unsupported input
    output_error = 4  # output exists, or cannot be written
    model_error = 5  # model missing or incompatible
    dependency_error = 6  # an optional dependency is not installed
    internal = 70


class DocbinError(Exception):
    """Base class of every error docbin raises on purpose."""

    exit_code = ExitCode.internal


class UsageError(DocbinError, ValueError):
    """An option or argument that cannot be used: an unknown method, a value out of range,
    a combination that would do nothing."""

    exit_code = ExitCode.usage


class InputError(DocbinError, ValueError):
    """The input image is missing, empty, truncated, too large or not an image."""

    exit_code = ExitCode.input_error


class OutputError(DocbinError):
    """The output cannot be written (exists without ``overwrite``, bad folder, ...)."""

    exit_code = ExitCode.output_error


class ModelError(DocbinError):
    """The hybrid model is missing or does not match what this runtime expects."""

    exit_code = ExitCode.model_error


class MissingDependencyError(DocbinError, ImportError):
    """An optional dependency (an extra) is needed for this feature."""

    exit_code = ExitCode.dependency_error


class SetupError(DocbinError):
    """A cluster or storage URL on the command line cannot be used: unknown URL scheme,
    unreachable scheduler, or the ``cluster`` extra (or a storage backend) missing.

    A usage error: the command names something that does not work here.
    """

    exit_code = ExitCode.usage
