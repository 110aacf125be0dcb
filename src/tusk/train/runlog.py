"""What a training run records: a JSONL log and a loss-curve PNG (progress: :mod:`tusk.progress`).

The log (``OUT/log.jsonl``) holds one JSON object per logged step (``step``, ``loss``, ``lr``,
``grad_norm``, ``target_tokens``, ``tokens``, ``seconds``, ``target_tokens_per_s``, ``epoch``) plus
``event`` lines (start, checkpoint, eval, end).  On resume the lines past the resumed step are dropped,
so the log always describes one continuous run.  Only the main process writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LOG_NAME = "log.jsonl"
PLOT_NAME = "loss.png"


class RunLog:
    def __init__(self, out: Path, enabled: bool = True):
        self.path = out / LOG_NAME
        self.enabled = enabled

    def truncate_after(self, step: int) -> None:
        """Keep only the records of steps up to ``step`` (a resumed run rewrites what came after)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [r for r in read_log(self.path) if int(r.get("step", 0)) <= step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def losses(path: Path) -> list[tuple[int, float]]:
    """(step, loss) of every logged step, in order."""
    return [(int(r["step"]), float(r["loss"])) for r in read_log(path) if "loss" in r and "event" not in r]


def plot_loss(log_path: Path, png: Path, title: str = "training loss") -> Path | None:
    """Draw the loss curve of ``log_path`` into ``png`` (None when nothing was logged)."""
    points = losses(log_path)
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, values = zip(*points)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(steps, values, lw=1.2, label="loss per target token")
    if len(values) >= 10:
        window = max(3, len(values) // 6)
        smooth = [sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
                  for i in range(len(values))]
        ax.plot(steps, smooth, lw=2, label=f"mean of last {window}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png
