"""A deployment's conda file, read as the pip requirements the local platform can install.

Azure builds a conda environment from it; locally, its ``pip:`` list and the conda
packages that have a PyPI twin (``deploy.local.environments.pypi_twins``) become pip
requirements, normalized so that equal environments hash alike. ``python`` is a
pin to compare with the platform's interpreter, ``pip`` is a tool, channels do
not apply. A conda-only package is a ``SpecError`` naming it, raised before
anything is built.

    env = parse_conda_file({"dependencies": ["python=3.11", "numpy=1.26", {"pip": ["joblib"]}]})
    env.requirements   # ('joblib', 'numpy==1.26.*')
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from deploy.errors import SpecError
from deploy.local.environments import messages as msg
from deploy.local.environments.pypi_twins import IGNORED, pypi_twin

__all__ = [
    "CondaEnvironment",
    "conda_specifier",
    "normalize_requirement",
    "parse_conda_file",
    "python_pin_satisfied",
]

_CONDA_ENTRY = re.compile(r"^(?:[^:\s]+::)?(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)\s*(?P<rest>.*)$")
_OPERATORS = ("<", ">", "!", "~", "==")
_FILE_OPTIONS = frozenset({"-r", "--requirement", "-c", "--constraint", "-e", "--editable"})
_VALUE_OPTIONS = frozenset(
    {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host"}
)
_FLAG_OPTIONS = frozenset({"--pre", "--prefer-binary"})
_KNOWN_KEYS = frozenset({"name", "channels", "dependencies"})


@dataclass(frozen=True, kw_only=True)
class CondaEnvironment:
    """What the local platform installs for a conda file.

    ``requirements`` are pip requirement strings, normalized, unique and sorted;
    ``pip_options`` are the pip options the file gave (index URLs...), in order;
    ``python_pin`` is the file's python version as a pip specifier (``==3.10.*``);
    ``notes`` are progress lines about what was ignored or renamed.
    """

    requirements: tuple[str, ...] = ()
    pip_options: tuple[str, ...] = ()
    python_pin: str | None = None
    notes: tuple[str, ...] = ()


def parse_conda_file(data: Any) -> CondaEnvironment:
    """Read a parsed conda file; ``SpecError`` (key ``environment.conda_file``) when invalid."""
    if not isinstance(data, Mapping):
        _fail(msg.CONDA_NOT_MAPPING.format(kind=type(data).__name__))
    dependencies = data.get("dependencies") or []
    if not isinstance(dependencies, list):
        _fail(msg.CONDA_DEPENDENCIES_NOT_LIST.format(kind=type(dependencies).__name__))
    notes = _top_level_notes(data)
    requirements: set[str] = set()
    options: list[str] = []
    conda_only: list[str] = []
    ignored: list[str] = []
    twins: list[str] = []
    python_pin: str | None = None
    for entry in dependencies:
        if isinstance(entry, Mapping) and set(entry) == {"pip"}:
            pip_list = entry["pip"] or []
            if not isinstance(pip_list, list):
                _fail(msg.CONDA_PIP_NOT_LIST.format(kind=type(pip_list).__name__))
            _read_pip_list(pip_list, requirements, options)
            continue
        if not isinstance(entry, str | int | float) or isinstance(entry, bool):
            _fail(msg.CONDA_ENTRY_INVALID.format(entry=entry))
        name, specifier = conda_specifier(str(entry))
        canonical = canonicalize_name(name)
        if canonical == "python":
            python_pin = specifier or None
        elif canonical == "pip":
            continue
        elif canonical in IGNORED:
            ignored.append(name)
        else:
            twin = pypi_twin(name)
            if twin is None:
                if name not in conda_only:
                    conda_only.append(name)
                continue
            requirements.add(normalize_requirement(Requirement(f"{twin}{specifier}")))
            twins.append(name if canonicalize_name(twin) == canonical else f"{name} as {twin}")
    if conda_only:
        _fail(msg.CONDA_ONLY.format(names=", ".join(conda_only)))
    if ignored:
        notes.append(msg.SELECTORS_IGNORED.format(names=", ".join(ignored)))
    if twins:
        notes.append(msg.TWINS_USED.format(pairs=", ".join(twins)))
    return CondaEnvironment(
        requirements=tuple(sorted(requirements)),
        pip_options=tuple(options),
        python_pin=python_pin,
        notes=tuple(notes),
    )


def conda_specifier(entry: str) -> tuple[str, str]:
    """A conda match spec as ``(name, pip specifier)``.

    ``numpy=1.26`` -> ``('numpy', '==1.26.*')``, ``numpy==1.26.4`` -> ``'==1.26.4'``,
    ``numpy>=1.2,<2`` as given, ``numpy 1.26 py311_0`` -> ``'==1.26.*'`` (build
    strings dropped), ``conda-forge::numpy`` -> ``('numpy', '')``.
    """
    text = entry.strip()
    match = _CONDA_ENTRY.match(text)
    if match is None:
        _fail(msg.CONDA_ENTRY_INVALID.format(entry=entry))
    name, rest = match["name"], match["rest"].strip()
    if "[" in rest or "|" in rest:
        what = "a bracketed match spec" if "[" in rest else "an 'or' (|) of versions"
        _fail(msg.CONDA_ENTRY_UNSUPPORTED.format(entry=entry, what=what))
    if not rest:
        specifier = ""
    elif rest.startswith("=="):
        specifier = "==" + rest[2:].split("=")[0].strip()
    elif rest.startswith("="):
        specifier = _fuzzy(rest[1:].split("=")[0].strip())
    elif rest.startswith(_OPERATORS):
        specifier = rest.replace(" ", "")
    else:
        specifier = _fuzzy(rest.split()[0])
    try:
        SpecifierSet(specifier)
    except InvalidSpecifier:
        _fail(msg.CONDA_ENTRY_INVALID.format(entry=entry))
    return name, specifier


def normalize_requirement(requirement: Requirement) -> str:
    """A requirement in one canonical spelling: normalized name and extras, sorted specifiers."""
    name = canonicalize_name(requirement.name)
    extras = ""
    if requirement.extras:
        extras = "[" + ",".join(sorted(canonicalize_name(e) for e in requirement.extras)) + "]"
    if requirement.url:
        text = f"{name}{extras} @ {requirement.url}"
    else:
        text = f"{name}{extras}{requirement.specifier}"
    if requirement.marker is not None:
        text += f" ; {requirement.marker}"
    return text


def python_pin_satisfied(pin: str | None, version: str) -> bool:
    """Whether Python ``version`` (``3.11.7``) meets the conda file's pin (``==3.10.*``)."""
    if not pin:
        return True
    try:
        return SpecifierSet(pin).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False


# ---------------------------------------------------------------- helpers


def _fuzzy(version: str) -> str:
    """Conda's ``=1.26`` (and ``1.26*``): any version starting with 1.26."""
    stem = version.rstrip("*").rstrip(".")
    if not stem:
        return ""
    return f"=={stem}.*"


def _top_level_notes(data: Mapping[str, Any]) -> list[str]:
    notes: list[str] = []
    channels = data.get("channels") or []
    if channels:
        listed = channels if isinstance(channels, list) else [channels]
        notes.append(msg.CHANNELS_IGNORED.format(channels=", ".join(str(c) for c in listed)))
    unknown = sorted(str(key) for key in data if key not in _KNOWN_KEYS)
    if unknown:
        notes.append(msg.KEYS_IGNORED.format(keys=", ".join(unknown)))
    return notes


def _read_pip_list(entries: Iterable[Any], requirements: set[str], options: list[str]) -> None:
    for raw in entries:
        entry = str(raw).strip()
        if not entry or entry.startswith("#"):
            continue
        if entry.startswith("-"):
            options.extend(_pip_option(entry))
            continue
        try:
            requirement = Requirement(entry)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            _fail(msg.PIP_ENTRY_INVALID.format(entry=entry, reason=reason))
        requirements.add(normalize_requirement(requirement))


def _pip_option(entry: str) -> list[str]:
    tokens = shlex.split(entry)
    option, _, inline_value = tokens[0].partition("=")
    if option in _FILE_OPTIONS:
        _fail(msg.PIP_OPTION_FILE.format(entry=entry))
    if option in _FLAG_OPTIONS and len(tokens) == 1 and not inline_value:
        return [option]
    if option in _VALUE_OPTIONS:
        values = [inline_value] if inline_value else tokens[1:]
        if len(values) != 1:
            _fail(msg.PIP_OPTION_VALUE.format(option=option))
        return [option, values[0]]
    supported = ", ".join(sorted(_VALUE_OPTIONS | _FLAG_OPTIONS))
    _fail(msg.PIP_OPTION_UNSUPPORTED.format(entry=entry, supported=supported))


def _fail(message: str) -> NoReturn:
    raise SpecError(message, key=msg.CONDA_FILE_KEY)
