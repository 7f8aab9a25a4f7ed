"""Run by each function's process of the e2e stack before its handler (devstack's ``DEVSTACK_PRELOAD``), the way
a Lambda exec wrapper would: it applies the faults a test asks for, so no product module carries a test hook.

- ``E2E_MAX_BACKOFF``: the API clients' longest in-invocation back-off (seconds long on AWS; tests stay fast).
- ``E2E_FAULTS_DIR``: a test arms a crash at an order step by creating ``die-<step>`` there (``faults.py``); the
  first process to reach that step takes the file (an atomic rename to ``died-<step>``) and raises, as a worker
  killed right after the outside service answered.
"""

from __future__ import annotations

import os

from bridge.clients.http import ApiSession
from bridge.orders import protocol

if os.environ.get("E2E_MAX_BACKOFF"):
    ApiSession.max_backoff = float(os.environ["E2E_MAX_BACKOFF"])

_faults = os.environ.get("E2E_FAULTS_DIR")
_checkpoint = protocol.checkpoint


def _dying_checkpoint(step: str) -> None:
    if _faults:
        try:
            os.rename(os.path.join(_faults, f"die-{step}"), os.path.join(_faults, f"died-{step}"))
        except FileNotFoundError:
            pass
        else:
            raise RuntimeError(f"worker died right after {step} (fault injected by the test)")
    _checkpoint(step)


protocol.checkpoint = _dying_checkpoint
