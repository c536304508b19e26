"""ONNX Runtime session settings, read once from environment variables.

=============================== ============================================ ==============
variable                        values                                        default
=============================== ============================================ ==============
``FLIGHTDECK_ONNX_MODEL``       the .onnx file: a path relative to            the single
                                ``AZUREML_MODEL_DIR`` (or absolute), or a     .onnx file
                                file name found once anywhere below it        below it
``ORT_GRAPH_OPTIMIZATION_LEVEL`` ``disable``, ``basic``, ``extended``,        ``all``
                                ``layout``, ``all`` (``ORT_ENABLE_ALL`` too)
``ORT_INTRA_OP_NUM_THREADS``    whole number; 0 lets ONNX Runtime choose      ``1``
``ORT_INTER_OP_NUM_THREADS``    whole number; 0 lets ONNX Runtime choose      ``1``
``ORT_EXECUTION_MODE``          ``sequential`` or ``parallel``               ``sequential``
``ORT_ALLOW_SPINNING``          ``1``/``0`` (true/false, yes/no, on/off)      ``0``
=============================== ============================================ ==============

One intra-op thread is the default because the inference server runs ``WORKER_COUNT``
worker processes, each scoring one request at a time: more threads per worker only
compete for the same cores. Spin-waiting is off so that idle workers do not burn CPU.

Usage::

    settings = SessionSettings.from_environ(os.environ)   # ModelLoadError on a bad value
    session = ort.InferenceSession(path, settings.session_options())
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import onnxruntime as ort
import scoring_messages as msg
from scoring_errors import ModelLoadError

ENV_MODEL_DIR = "AZUREML_MODEL_DIR"
ENV_MODEL = "FLIGHTDECK_ONNX_MODEL"
ENV_OPTIMIZATION = "ORT_GRAPH_OPTIMIZATION_LEVEL"
ENV_INTRA_OP = "ORT_INTRA_OP_NUM_THREADS"
ENV_INTER_OP = "ORT_INTER_OP_NUM_THREADS"
ENV_MODE = "ORT_EXECUTION_MODE"
ENV_SPINNING = "ORT_ALLOW_SPINNING"

_OPTIMIZATION_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "layout": ort.GraphOptimizationLevel.ORT_ENABLE_LAYOUT,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
_ALIASES = {
    "disable_all": "disable",
    "ort_disable_all": "disable",
    "ort_enable_basic": "basic",
    "ort_enable_extended": "extended",
    "ort_enable_layout": "layout",
    "ort_enable_all": "all",
}
_MODES = {
    "sequential": ort.ExecutionMode.ORT_SEQUENTIAL,
    "parallel": ort.ExecutionMode.ORT_PARALLEL,
}
_SWITCHES = {"1": True, "true": True, "yes": True, "on": True}
_SWITCHES.update({"0": False, "false": False, "no": False, "off": False})


@dataclass(frozen=True, kw_only=True)
class SessionSettings:
    """Where the model is and how to run it; built by :meth:`from_environ`."""

    model_dir: str | None
    model_name: str | None
    optimization: str = "all"
    intra_op_threads: int = 1
    inter_op_threads: int = 1
    execution_mode: str = "sequential"
    allow_spinning: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SessionSettings:
        """Read the settings; :class:`ModelLoadError` names the variable with a bad value."""
        return cls(
            model_dir=environ.get(ENV_MODEL_DIR) or None,
            model_name=environ.get(ENV_MODEL) or None,
            optimization=_choice(environ, ENV_OPTIMIZATION, "all", _OPTIMIZATION_LEVELS, _ALIASES),
            intra_op_threads=_count(environ, ENV_INTRA_OP, 1),
            inter_op_threads=_count(environ, ENV_INTER_OP, 1),
            execution_mode=_choice(environ, ENV_MODE, "sequential", _MODES, {}),
            allow_spinning=_switch(environ, ENV_SPINNING, False),
        )

    def session_options(self) -> ort.SessionOptions:
        """ONNX Runtime session options carrying these settings."""
        options = ort.SessionOptions()
        options.graph_optimization_level = _OPTIMIZATION_LEVELS[self.optimization]
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = self.inter_op_threads
        options.execution_mode = _MODES[self.execution_mode]
        spinning = "1" if self.allow_spinning else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        options.add_session_config_entry("session.inter_op.allow_spinning", spinning)
        return options

    def describe(self) -> str:
        """One line for the log, e.g. ``optimization=all intra_op=1 inter_op=1 ...``."""
        return (
            f"optimization={self.optimization} intra_op_threads={self.intra_op_threads} "
            f"inter_op_threads={self.inter_op_threads} execution_mode={self.execution_mode} "
            f"spinning={'on' if self.allow_spinning else 'off'}"
        )


def _raw(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _choice(
    environ: Mapping[str, str],
    name: str,
    default: str,
    choices: Mapping[str, object],
    aliases: Mapping[str, str],
) -> str:
    value = _raw(environ, name)
    if value is None:
        return default
    key = aliases.get(value.lower(), value.lower())
    if key not in choices:
        raise ModelLoadError(
            msg.BAD_CHOICE.format(env=name, value=value, choices=", ".join(choices))
        )
    return key


def _count(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _raw(environ, name)
    if value is None:
        return default
    if not value.isdigit():
        raise ModelLoadError(msg.BAD_COUNT.format(env=name, value=value))
    return int(value)


def _switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = _raw(environ, name)
    if value is None:
        return default
    if value.lower() not in _SWITCHES:
        raise ModelLoadError(msg.BAD_SWITCH.format(env=name, value=value))
    return _SWITCHES[value.lower()]
