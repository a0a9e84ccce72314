"""Each workspace package builds its own wheel and installs alone in a clean venv (uv, PyPI through uv's
cache), pulling in only what it declares; then every module of its public API imports.

A module may fail to import only for a missing *optional* dependency named here (the package's extras), so
an undeclared import (jsonargparse in `omnialign-alignment` once) fails the test. `omnialign-data` alone
must not bring torch, lightning or transformers; the console entry points must start.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

WORKSPACE = {
    "omnialign-data": [],
    "omnialign-models": ["omnialign-data"],
    "omnialign-alignment": ["omnialign-data", "omnialign-models"],
    "omnialign-eval": ["omnialign-data", "omnialign-models"],
    "omnialign-pipelines": ["omnialign-data", "omnialign-models", "omnialign-alignment", "omnialign-eval"],
}
OPTIONAL = {  # package -> modules that may miss for want of one of its extras: {module prefix: missing dist}
    "omnialign-data": {
        "omnialign.data.collate": "torch",
        "omnialign.data.datamodules": "torch",
        "omnialign.data.encode": "torch",
        "omnialign.data.interleaved": "torch",
        "omnialign.data.sampling": "torch",
    },
    "omnialign-models": {
        "omnialign.models.diffusion": "diffusers",
        "omnialign.models.generation.media": "diffusers",
    },
}
ABSENT = {"omnialign-data": ["torch", "lightning", "transformers"]}
SCRIPTS = {
    "omnialign-alignment": ["omnialign-train", "omnialign-export"],
    "omnialign-eval": ["omnialign-evaluate"],
    "omnialign-pipelines": ["omnialign-llf", "omnialign-refine-prompt"],
}

PROBE = """
import importlib, json, pkgutil, sys
package, absent = sys.argv[1], json.loads(sys.argv[2])
failures = {}
root = importlib.import_module(package)
for info in pkgutil.walk_packages(root.__path__, package + "."):
    if info.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(info.name)
    except ModuleNotFoundError as error:
        failures[info.name] = error.name.split(".")[0]
installed = [name for name in absent if importlib.util.find_spec(name) is not None]
print(json.dumps({"version": root.__version__, "failures": failures, "installed": installed}))
"""


def _run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result.stdout


def _allowed(package: str, module: str, missing: str) -> bool:
    return any(
        module.startswith(prefix) and missing == dist for prefix, dist in OPTIONAL.get(package, {}).items()
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)  # uv's cache makes installs fast; a first import in a fresh venv compiles bytecode
@pytest.mark.parametrize("package", sorted(WORKSPACE))
def test_package_installs_alone_and_its_modules_import(package, repo_root, tmp_path):
    dist = tmp_path / "dist"
    for name in [package, *WORKSPACE[package]]:
        _run(["uv", "build", "--package", name, "--wheel", "--out-dir", str(dist), "--quiet"], repo_root)
    venv = tmp_path / "venv"
    _run(["uv", "venv", "--quiet", "--python", "3.11", str(venv)], tmp_path)
    python = str(venv / "bin" / "python")
    install = ["uv", "pip", "install", "--quiet", "--python", python, "--find-links", str(dist), package]
    _run(install, tmp_path)

    module = package.replace("-", ".")
    report = json.loads(_run([python, "-c", PROBE, module, json.dumps(ABSENT.get(package, []))], tmp_path))
    unexpected = {m: d for m, d in report["failures"].items() if not _allowed(package, m, d)}
    assert not unexpected, f"{package} imports what it does not declare: {unexpected}"
    assert not report["installed"], f"{package} alone installed {report['installed']}"
    version = f"import importlib.metadata as m; print(m.version('{package}'))"
    assert report["version"] == _run([python, "-c", version], tmp_path).strip()
    for script in SCRIPTS.get(package, []):
        assert "usage:" in _run([str(venv / "bin" / script), "--help"], tmp_path)
