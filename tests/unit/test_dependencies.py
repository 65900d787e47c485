"""glint runs on what ``pip install .`` brings: the README's first command installs no test extras."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

CHECKOUT = Path(__file__).resolve().parents[2]

# In a fresh interpreter: refuse every top-level module that only undeclared distributions provide, then
# import every module of glint's own packages (not those that run when imported: ``__main__`` modules run
# their command, the migrations' env.py runs inside alembic).
IMPORT_ALL = """
import importlib, importlib.abc, json, pkgutil, sys
refused = set(json.loads(sys.argv[1]))

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in refused:
            raise ModuleNotFoundError(f"No module named {name!r} (not among glint's dependencies)", name=name)
        return None

sys.meta_path.insert(0, Refuse())
for package in ("shared", "services"):
    for module in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        if not module.name.endswith(("__main__", "migrations.env")):
            importlib.import_module(module.name)
"""


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_by(distribution: str, extras: frozenset[str] = frozenset(), found: set[str] | None = None) -> set[str]:
    """``distribution`` and everything its requirements (with ``extras``) bring, as normalised names."""
    found = set() if found is None else found
    found.add(_normal(distribution))
    wanted = {""} | set(extras)
    for line in metadata.requires(distribution) or []:
        requirement = Requirement(line)
        if requirement.marker and not any(requirement.marker.evaluate({"extra": extra}) for extra in wanted):
            continue
        if _normal(requirement.name) not in found:
            try:
                installed_by(requirement.name, frozenset(requirement.extras), found)
            except metadata.PackageNotFoundError:
                continue  # a requirement for another platform or Python
    return found


def test_every_module_imports_with_only_the_declared_dependencies() -> None:
    declared = installed_by("glint")
    refused = sorted(
        module
        for module, distributions in metadata.packages_distributions().items()
        if not any(_normal(distribution) in declared for distribution in distributions)
    )
    assert "pytest" in refused and "flask" not in refused  # the check can tell the two apart
    run = subprocess.run([sys.executable, "-c", IMPORT_ALL, json.dumps(refused)], cwd=CHECKOUT, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
