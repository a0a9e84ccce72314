"""Step timing shared by both sides of a peer benchmark."""

from __future__ import annotations

import time


class StepClock:
    """Wall time from the start of step `warmup` to the end of step `warmup + timed - 1` (steps count from
    0), so warm-up steps (allocator growth, first-call overheads) stay out of the throughput."""

    def __init__(self, warmup: int, timed: int) -> None:
        self.warmup, self.timed = warmup, timed
        self.start: float | None = None
        self.end: float | None = None

    def step_begin(self, step: int) -> None:
        if step == self.warmup:
            self.start = time.perf_counter()

    def step_end(self, step: int) -> None:
        if step == self.warmup + self.timed - 1:
            self.end = time.perf_counter()

    @property
    def seconds(self) -> float:
        if self.start is None or self.end is None:
            raise RuntimeError(f"the run stopped before step {self.warmup + self.timed - 1} ended")
        return self.end - self.start
