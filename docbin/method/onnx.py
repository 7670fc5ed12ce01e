"""The ONNX models of the learned steps: one way to open them with onnxruntime.

Every learned step (:mod:`docbin.method.adjust`, :mod:`docbin.method.refine`,
:mod:`docbin.method.clean`) ships its model as an ONNX file run on the CPU with
onnxruntime, and checks the model's metadata itself; this module opens the session and
reads the metadata, with one error for a file that is not a model.
"""

from __future__ import annotations

from docbin.errors import ModelError


def open_session(source, name: str, what: str, *, threads: int = 1):
    """``(session, metadata)`` of the ONNX model in ``source`` (a path-like with
    ``read_bytes``, or the bytes).

    ``threads`` intra-op threads (pages are usually worked on by several threads already),
    no spinning, warnings off, the CPU execution provider.

    Raises
    ------
    ModelError
        onnxruntime cannot load it (``what`` names the model in the message).
    """
    import onnxruntime  # the learned steps only: the classical method never loads it

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    data = source.read_bytes() if hasattr(source, "read_bytes") else source
    try:
        session = onnxruntime.InferenceSession(data, sess_options=options,
                                               providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelError(f"{name}: cannot load the {what} with onnxruntime ({first}); is it "
                         "an ONNX file?") from error
    return session, dict(session.get_modelmeta().custom_metadata_map)
