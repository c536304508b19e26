"""Find the deployment's ONNX file, open an InferenceSession on it, and run batches.

Usage::

    model = load_model(os.environ)        # ModelLoadError says what is missing or wrong
    logger.info(model.describe())
    predictions = model.predict(batch)    # list, or {output name: list} for several outputs
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import scoring_messages as msg
from batching import BatchSettings, session_runner
from input_rows import InputSpec, shape_text
from numpy.typing import NDArray
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state
from scoring_errors import ModelLoadError
from session_settings import ENV_MODEL, SessionSettings

_LISTED_FILES = 5
# What ONNX Runtime raises for a file it cannot load (its own classes, not RuntimeError).
_LOAD_ERRORS = (
    ort_state.Fail,
    ort_state.InvalidArgument,
    ort_state.InvalidGraph,
    ort_state.InvalidProtobuf,
    ort_state.NoSuchFile,
    ort_state.NotImplemented,
)


@dataclass(frozen=True, kw_only=True)
class LoadedModel:
    """An open session with what it takes (:attr:`input`) and what it answers."""

    path: Path
    session: ort.InferenceSession
    settings: SessionSettings
    input: InputSpec
    output_names: tuple[str, ...]
    batching: BatchSettings
    runner: Callable[[NDArray[Any]], list[NDArray[Any]]]  # session.run, or a MicroBatcher

    def predict(self, batch: NDArray[Any]) -> Any:
        """Run one batch; one output gives its rows, several give ``{name: rows}``."""
        outputs = self.runner(batch)
        if len(outputs) == 1:
            return _plain(outputs[0])
        return {name: _plain(value) for name, value in zip(self.output_names, outputs, strict=True)}

    def describe(self) -> str:
        """One log line: file, metadata, session options, input and output signature."""
        meta = self.session.get_modelmeta()
        details = [f"producer {meta.producer_name or '?'}", f"version {meta.version}"]
        details += [f"{key}={value}" for key, value in sorted(meta.custom_metadata_map.items())]
        outputs = ", ".join(
            f"{node.name}: {node.type} {shape_text(node.shape)}"
            for node in self.session.get_outputs()
        )
        return msg.LOADED.format(
            path=self.path,
            size=self.path.stat().st_size,
            meta=", ".join(details),
            options=self.settings.describe(),
            input=f"{self.input.describe()} ({self.input.onnx_type})",
            outputs=outputs,
        )


def load_model(environ: Mapping[str, str]) -> LoadedModel:
    """Read settings from ``environ``, find the .onnx file and open it; :class:`ModelLoadError`."""
    settings = SessionSettings.from_environ(environ)
    path = find_model_file(settings.model_dir, settings.model_name)
    try:
        session = ort.InferenceSession(
            str(path), settings.session_options(), providers=["CPUExecutionProvider"]
        )
    except _LOAD_ERRORS as error:
        raise ModelLoadError(msg.MODEL_UNREADABLE.format(path=path, reason=error)) from error
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = ", ".join(node.name for node in inputs)
        raise ModelLoadError(msg.MANY_INPUTS.format(path=path, count=len(inputs), names=names))
    node = inputs[0]
    spec = InputSpec.from_node(name=node.name, onnx_type=node.type, shape=list(node.shape))
    outputs = tuple(output.name for output in session.get_outputs())
    try:
        batching = BatchSettings.from_environ(environ)
    except ValueError as error:
        raise ModelLoadError(str(error)) from error
    if spec.batch is not None:  # a fixed batch size: rows of several requests cannot stack
        batching = BatchSettings()
    runner = session_runner(session, input_name=spec.name, output_names=outputs, settings=batching)
    return LoadedModel(
        path=path,
        session=session,
        settings=settings,
        input=spec,
        output_names=outputs,
        batching=batching,
        runner=runner,
    )


def find_model_file(model_dir: str | None, name: str | None) -> Path:
    """The .onnx file to serve: the named one, else the only one below ``model_dir``."""
    if model_dir is None:
        raise ModelLoadError(msg.MODEL_DIR_UNSET.format())
    root = Path(model_dir)
    if not root.is_dir():
        raise ModelLoadError(msg.MODEL_DIR_MISSING.format(path=root))
    if name is not None:
        return _named_file(root, name)
    found = sorted(path for path in root.rglob("*.onnx") if path.is_file())
    if not found:
        raise ModelLoadError(msg.NO_ONNX_FILE.format(path=root, env=ENV_MODEL))
    if len(found) > 1:
        raise ModelLoadError(
            msg.MANY_ONNX_FILES.format(
                count=len(found),
                path=root,
                files=_listed(root, found),
                env=ENV_MODEL,
                first=found[0].relative_to(root),
            )
        )
    return found[0]


def _named_file(root: Path, name: str) -> Path:
    direct = root / name  # an absolute name replaces root here
    if direct.is_file():
        return direct
    if "/" not in name and "\\" not in name:
        matches = sorted(path for path in root.rglob("*") if path.name == name and path.is_file())
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ModelLoadError(
                msg.NAMED_FILE_AMBIGUOUS.format(
                    env=ENV_MODEL,
                    value=name,
                    count=len(matches),
                    path=root,
                    files=_listed(root, matches),
                )
            )
    raise ModelLoadError(msg.NAMED_FILE_MISSING.format(env=ENV_MODEL, value=name, path=root))


def _listed(root: Path, paths: list[Path]) -> str:
    shown = ", ".join(str(path.relative_to(root)) for path in paths[:_LISTED_FILES])
    return shown if len(paths) <= _LISTED_FILES else f"{shown}, ..."


def _plain(value: Any) -> Any:
    """JSON-ready form of an output: arrays to lists, maps' keys to strings."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value
