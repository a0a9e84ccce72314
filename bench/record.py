"""Write one benchmark's latest results into its own section of BENCHMARKS.md (replacing the old one)."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
TITLE = (
    "# Benchmarks\n\n"
    "Every number here is produced by a script under `bench/`, with its peer measured in the same run.\n"
)


def record_section(name: str, body: str) -> None:
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else TITLE
    section = f"## {name}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text)


def publish(section: str, title: str, threads: int, details: str, table: str, write: bool) -> str:
    """Print a CPU result table under a header naming the machine, date and library versions (the numbers
    mean nothing without them); with `write`, also record it as `section` of BENCHMARKS.md."""
    import os
    import platform
    import time

    import torch
    import transformers

    header = (
        f"### {title}, CPU ({os.cpu_count()} cores, {threads} threads), {time.strftime('%Y-%m-%d')}\n\n"
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"Python {platform.python_version()}; {details}\n\n"
    )
    report = header + table + "\n"
    print(report)
    if write:
        record_section(section, report)
    return report
