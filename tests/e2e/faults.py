"""The test's side of ``preload.py``: arm a crash in the stack's functions and see whether one happened."""

from __future__ import annotations

from pathlib import Path

MAX_BACKOFF = "0.05"


class Crash:
    """A crash armed at ``step``: true once a function's process died there."""

    def __init__(self, directory: Path, step: str) -> None:
        self.armed, self.died = directory / f"die-{step}", directory / f"died-{step}"
        self.died.unlink(missing_ok=True)
        self.armed.write_text(step)

    def __bool__(self) -> bool:
        return self.died.exists()

    def disarm(self) -> None:
        self.armed.unlink(missing_ok=True)
        self.died.unlink(missing_ok=True)


def environment(directory: Path) -> dict[str, str]:
    """What the stack gives every function's process for ``preload.py``."""
    return {"DEVSTACK_PRELOAD": str(Path(__file__).with_name("preload.py")), "E2E_FAULTS_DIR": str(directory),
            "E2E_MAX_BACKOFF": MAX_BACKOFF}  # fmt: skip
