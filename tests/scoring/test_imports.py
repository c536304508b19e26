"""What the scoring folder imports: it is uploaded alone as a deployment's code directory.

An AST scan (nothing is imported): every ``import``/``from`` statement, and every
``importlib.import_module("...")``/``__import__("...")`` with a literal name, of

- ``scoring/*.py`` (score.py and its helper modules): only the standard library, their
  sibling modules, onnxruntime, numpy, inference_schema and azureml_inference_server_http,
  what an Azure environment for the script installs (DESIGN.md, "scoring/");
- ``scoring/fastserve/``: those, its own package, and its documented extras: httptools (the
  HTTP parser) and orjson (JSON bodies; optional, json is used without it). flask comes with
  azureml-inference-server-http and is taken only inside a function, for a ``@rawhttp``
  run(): fastserve starts without it.

That scoring/ imports none of our packages is also an import-linter contract (pyproject.toml,
``lint-imports`` in ``make test``); import-linter forbids named packages, so the allow-list of
what an uploaded code folder may import, lazy imports and all, stays here.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.scoring.helpers import SCORING_DIR

FASTSERVE_DIR = SCORING_DIR / "fastserve"
#: What an environment for score.py installs (besides the standard library).
SCRIPT_PACKAGES = frozenset(
    {"onnxruntime", "numpy", "inference_schema", "azureml_inference_server_http"}
)
#: fastserve's documented extras: the HTTP parser and the JSON parser.
FASTSERVE_EXTRA = frozenset({"httptools", "orjson"})
#: Allowed in fastserve only inside a function (a lazy import, when a script needs it).
FASTSERVE_LAZY = frozenset({"flask"})
_DYNAMIC = {("importlib", "import_module"), ("", "__import__"), ("", "import_module")}


@dataclass(frozen=True)
class Import:
    """One imported name: its top-level module, where, and whether inside a function."""

    top: str
    relative: bool
    file: Path
    line: int
    lazy: bool

    def where(self) -> str:
        return f"{self.file.relative_to(SCORING_DIR.parent)}:{self.line} imports {self.top!r}"


def imports_of(path: Path) -> Iterator[Import]:
    """Every import in ``path``, found by walking its syntax tree."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    yield from _walk(tree, path, lazy=False)


def _walk(node: ast.AST, path: Path, *, lazy: bool) -> Iterator[Import]:
    for child in ast.iter_child_nodes(node):
        inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        if isinstance(child, ast.Import):
            for alias in child.names:
                yield Import(alias.name.split(".")[0], False, path, child.lineno, lazy)
        elif isinstance(child, ast.ImportFrom):
            top = (child.module or "").split(".")[0]
            yield Import(top, child.level > 0, path, child.lineno, lazy)
        elif isinstance(child, ast.Call) and _is_dynamic_import(child):
            name = child.args[0]
            assert isinstance(name, ast.Constant) and isinstance(name.value, str)
            yield Import(name.value.split(".")[0], False, path, child.lineno, lazy)
        yield from _walk(child, path, lazy=inner)


def _is_dynamic_import(call: ast.Call) -> bool:
    function = call.func
    if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
        called = (function.value.id, function.attr)
    elif isinstance(function, ast.Name):
        called = ("", function.id)
    else:
        return False
    first = call.args[0] if call.args else None
    return called in _DYNAMIC and isinstance(first, ast.Constant) and isinstance(first.value, str)


def _stdlib(top: str) -> bool:
    return top in sys.stdlib_module_names


def test_score_py_and_its_helpers_import_only_what_an_azure_environment_has() -> None:
    files = sorted(SCORING_DIR.glob("*.py"))
    assert SCORING_DIR / "score.py" in files
    siblings = {path.stem for path in files}
    found = [item for path in files for item in imports_of(path)]
    wrong = [
        item.where()
        for item in found
        if item.relative or not (_stdlib(item.top) or item.top in siblings | SCRIPT_PACKAGES)
    ]
    assert wrong == [], "scoring/ must run with only its environment's packages installed"
    # The scan sees what the script really uses (a scan that finds nothing proves nothing).
    assert {"onnxruntime", "numpy", "inference_schema", "scoring_messages"} <= {
        item.top for item in found
    }


def test_fastserve_imports_only_those_httptools_and_orjson() -> None:
    files = sorted(FASTSERVE_DIR.rglob("*.py"))
    assert FASTSERVE_DIR / "server.py" in files
    allowed = SCRIPT_PACKAGES | FASTSERVE_EXTRA | {"fastserve"}
    found = [item for path in files for item in imports_of(path)]
    wrong = [
        item.where()
        for item in found
        if not (
            item.relative
            or _stdlib(item.top)
            or item.top in allowed
            or (item.lazy and item.top in FASTSERVE_LAZY)
        )
    ]
    assert wrong == [], "fastserve ships in the code folder: stdlib, its extras and the script's"
    tops = {item.top for item in found}
    assert {"httptools", "orjson", "azureml_inference_server_http"} <= tops
    assert any(item.relative for item in found)
