"""The task registry: a YAML file declaring eval tasks by name, each a dataset, a family and judge roles.

Tasks name a judge *role* (e.g. `judge`, `reward`); the run config binds each role to a concrete judge, so
one registry serves a tiny CPU run and a real one alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jsonargparse import ArgumentParser

from omnialign.eval.families import Family
from omnialign.eval.metrics.generation import GenerationMetricName


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
    image_metrics: list[GenerationMetricName] = field(default_factory=list)
    """Distribution metrics of the images the model generated (fid, kid, inception_score, clip_score),
    weights set by the run's `image_metrics` options."""
    real_images: str | None = None
    """Folder of real images (relative to `data_root`) that FID and KID compare the generated ones with."""

    def __post_init__(self) -> None:
        needs_real = [name for name in self.image_metrics if name in ("fid", "kid")]
        if needs_real and self.real_images is None:
            raise ValueError(f"task '{self.name}': {needs_real} compare with real images; set real_images")


def load_registry(path: str | Path) -> dict[str, TaskSpec]:
    """Parse the registry strictly (an unknown key or family is an error) into tasks by name."""
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--tasks", type=list[TaskSpec], required=True)
    tasks = parser.instantiate_classes(parser.parse_path(str(path))).tasks
    by_name = {task.name: task for task in tasks}
    if len(by_name) != len(tasks):
        raise ValueError(f"{path}: task names must be unique")
    return by_name
