"""Import a script of bench/real/ by path: bench/ is not a package on the test path, and its scripts are run
as files (`uv run python bench/real/<name>.py`), so tests load them the same way rather than as modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH_REAL = Path(__file__).resolve().parents[2] / "bench" / "real"


def bench_script(name: str) -> ModuleType:
    """bench/real/<name>.py as a module (registered in sys.modules: its dataclasses need that)."""
    key = f"bench_real_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, BENCH_REAL / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]
