"""Each workspace package builds its own wheel and installs alone in a clean venv, pulling in only the
workspace packages it declares."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

PACKAGES = {
    "omnialign-data": ("omnialign.data", []),
    "omnialign-models": ("omnialign.models", ["omnialign-data"]),
    "omnialign-alignment": ("omnialign.alignment", ["omnialign-data", "omnialign-models"]),
    "omnialign-eval": ("omnialign.eval", ["omnialign-data", "omnialign-models"]),
}
OTHERS = {module for module, _ in PACKAGES.values()}


def _run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_builds_and_installs_alone(package, repo_root, tmp_path):
    module, workspace_deps = PACKAGES[package]
    dist = tmp_path / "dist"
    for name in [package, *workspace_deps]:
        _run(["uv", "build", "--package", name, "--wheel", "--out-dir", str(dist), "--quiet"], repo_root)
    venv = tmp_path / "venv"
    _run(["uv", "venv", "--quiet", "--python", "3.11", str(venv)], tmp_path)
    python = str(venv / "bin" / "python")
    _run(
        ["uv", "pip", "install", "--quiet", "--python", python, "--find-links", str(dist), package], tmp_path
    )
    absent = sorted(OTHERS - {module} - {PACKAGES[d][0] for d in workspace_deps})
    probe = (
        "import importlib.util, sys\n"
        f"import {module}\n"
        f"missing = [m for m in {absent!r} if importlib.util.find_spec(m) is not None]\n"
        "sys.exit(f'unexpectedly installed: {missing}' if missing else 0)\n"
    )
    _run([python, "-c", probe], tmp_path)
