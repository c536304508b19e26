"""The upper bound on numpy that PyPI's metadata lacks for packages built against numpy 1.x.

Wheels compiled against numpy 1.x fail to import under numpy 2 ("numpy.dtype size
changed, may indicate binary incompatibility"), but their PyPI metadata says only
``numpy>=1.x``, so a resolver picks numpy 2 for an unpinned numpy. conda-forge patches
its repodata with the missing ``numpy <2`` bound, which is why the same conda file works
on Azure. Here the same bound becomes a constraint when a requirement can only resolve to
a release older than the package's first numpy-2 build.

    numpy_constraints(["scikit-learn==1.2.2", "joblib"])   # ('numpy<2',), note
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = ["NUMPY2_FIRST", "numpy_constraints"]

#: The first release of each package built against numpy 2 (older ones need numpy<2).
NUMPY2_FIRST: dict[str, str] = {
    "scikit-learn": "1.4.2",
    "scipy": "1.13.0",
    "pandas": "2.2.2",
    "matplotlib": "3.8.4",
    "pyarrow": "16.0.0",
    "numba": "0.60.0",
    "h5py": "3.11.0",
    "statsmodels": "0.14.2",
    "xgboost": "2.1.0",
    "torch": "2.3.0",
}
_CAPPING = frozenset({"==", "===", "<", "<=", "~="})


def numpy_constraints(requirements: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(constraints, names)``: ``('numpy<2',)`` and the requirements that need it, when a
    requirement is capped below its package's first numpy-2 release; else ``((), ())``."""
    old: list[str] = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        first = NUMPY2_FIRST.get(canonicalize_name(requirement.name))
        if first is None:
            continue
        cap = _upper_bound(requirement)
        if cap is not None and cap < Version(first):
            old.append(text)
    return (("numpy<2",), tuple(old)) if old else ((), ())


def _upper_bound(requirement: Requirement) -> Version | None:
    """The highest version a requirement's specifier names as a cap (``==1.2.*`` -> 1.2)."""
    caps: list[Version] = []
    for spec in requirement.specifier:
        if spec.operator not in _CAPPING:
            continue
        try:
            version = Version(spec.version.removesuffix(".*"))
        except InvalidVersion:
            continue
        if spec.operator == "~=" and len(version.release) <= 2:
            continue  # ~=1.3 allows every 1.x
        caps.append(version)
    return min(caps) if caps else None
