"""What a sandboxed run reports: per-cell evidence and a run-level outcome."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = ["OUTCOMES", "CellResult", "RunResult"]

#: Run outcomes, and what each means.
OUTCOMES = {
    "completed": "every code cell was executed (some may have raised)",
    "cell_timeout": "a cell ran longer than the per-cell timeout",
    "notebook_timeout": "the notebook ran longer than the per-notebook timeout",
    "kernel_died": "the kernel process exited or was killed by a signal",
    "memory_limit": "the kernel was killed by the OOM killer at the memory limit",
    "output_limit": "the cells printed more than the output cap",
    "protocol_error": "the kernel sent a message that is not Jupyter protocol",
    "startup_failed": "the kernel did not start or did not answer",
}

#: Marker appended to output text cut at the cap.
TRUNCATED = "\n[... output truncated by the grading sandbox ...]"


@dataclass
class CellResult:
    """Evidence of one code cell's execution.

    ``status`` is the kernel's ``execute_reply`` status (``"ok"``,
    ``"error"``, ``"aborted"``), or ours when no reply came: ``"timeout"``
    (the cell hit a timeout), ``"dead"`` (the kernel died while running it),
    ``"output_limit"`` (stopped at the output cap), ``"protocol_error"`` (the
    kernel sent a message we cannot read) or ``"not_run"`` (a cell after the
    one that ended the run).
    """

    index: int
    cell_id: str | None
    status: str = "not_run"
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    execution_count: int | None = None
    seconds: float = 0.0
    truncated: bool = False

    def text(self):
        """Return the cell's stream and ``text/plain`` outputs joined together."""
        parts = []
        for out in self.outputs:
            if out["output_type"] == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
        return "".join(parts)


@dataclass
class RunResult:
    """Outcome of one sandboxed notebook run.

    ``outcome`` is a key of :data:`OUTCOMES`; ``reason`` says it in words
    (which cell, which signal, which limit). ``startup_seconds`` is the time
    from launching the kernel to its first reply; ``first_result_seconds``
    from launching to the first cell's reply. ``forked`` says the kernel was
    forked from a grading zygote rather than started as a new interpreter.
    ``timings`` holds the seconds of the run's phases, for the grader's
    reports (never shown to learners): ``queue`` (waiting for an idle
    zygote), ``setup`` (run directory, staging, cgroup, connection file),
    ``fork`` (the zygote forks the kernel, or the launcher starts it),
    ``kernel_start`` (until the kernel answers), ``preload`` (a pre-started
    kernel's imports), ``teardown`` (killing the run, removing its cgroup
    and directory); each cell's own seconds are in ``cells``.
    """

    outcome: str
    reason: str
    cells: list[CellResult] = field(default_factory=list)
    seconds: float = 0.0
    startup_seconds: float | None = None
    first_result_seconds: float | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    oom_kills: int = 0
    output_bytes: int = 0
    forked: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self):
        """Whether every code cell was executed (cells may still have raised)."""
        return self.outcome == "completed"

    def to_dict(self):
        """Return the result as plain JSON-serialisable data."""
        return dataclasses.asdict(self)
