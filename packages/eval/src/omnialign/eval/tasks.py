"""The task registry: a YAML file declaring eval tasks by name, each a dataset, a family and judge roles.

Tasks name a judge *role* (e.g. `judge`, `reward`); the run config binds each role to a concrete judge, so
one registry serves a tiny CPU run and a real one alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jsonargparse import ArgumentParser

from omnialign.eval.families import Family


@dataclass
class TaskSpec:
    name: str
    """Unique task name, used in outputs and to select tasks in a run config."""
    family: Family
    """understanding, generation, selection or synergy."""
    data: str
    """JSONL file of eval items, relative to the run's `data_root`."""
    judge: str | None = None
    """Judge role, bound to a judge in the run config; None for the judge-free selection family."""
    cost_judge: str | None = None
    """Judge role scoring each answer's cost (> 0: unsafe): adds safe rates and, with the run's `baseline`,
    the Safe RLHF arena."""
    limit: int | None = None
    """Evaluate only the first `limit` items."""


def load_registry(path: str | Path) -> dict[str, TaskSpec]:
    """Parse the registry strictly (an unknown key or family is an error) into tasks by name."""
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--tasks", type=list[TaskSpec], required=True)
    tasks = parser.instantiate_classes(parser.parse_path(str(path))).tasks
    by_name = {task.name: task for task in tasks}
    if len(by_name) != len(tasks):
        raise ValueError(f"{path}: task names must be unique")
    return by_name
