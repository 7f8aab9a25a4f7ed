"""Issue 12, cold start: what a handler's import leaves for the invocations that need it.

Each module listed here was taken out of a handler's import on purpose (a function-level import where it is used),
because most of that handler's invocations never need it; the first invocation that does pays its import. The
test imports each handler as Lambda would (a fresh interpreter, the function's folder and the layer first on
sys.path) and fails if one of them comes back through a new top-level import somewhere on the way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cold_start import ENV, handlers

ROOT = Path(__file__).resolve().parents[2]

# Every SQS worker: what only a failing record needs (bridge/worker.py records it through the dead-letter module).
WORKER = ["bridge.ops.dead_letters"]
DEFERRED: dict[str, list[str]] = {
    "BsaleWorkerFunction": WORKER,
    # The Bsale steps, imported by bridge/orders/flow.py where they run: an order event that only holds or gives
    # back stock (pending payment, abandoned, canceled before any document) needs no document rules.
    "JumpsellerOrderWorkerFunction": [*WORKER, "bridge.orders.steps.bsale_document", "bridge.orders.steps.bsale_return",
                                      "bridge.orders.steps.consumption", "bridge.orders.steps.reception",
                                      "bridge.documents.builder", "bridge.orders.sii",
                                      # both catalogs' models: each client imports them per read
                                      "bridge.models.bsale", "bridge.models.jumpseller"],
    # Bsale's catalog models, read only when a shop connects; the SII watch (the status page reads the documents'
    # labels from the order records)
    "PanelFunction": ["bridge.models.bsale", "bridge.models.jumpseller", "bridge.orders.sii"],
    "SyncWorkerFunction": WORKER,
}

PROBE = """
import json, sys
sys.path[:0] = {paths!r}
import {module}
print(json.dumps(sorted(sys.modules)))
"""


def imported(name: str) -> set[str]:
    folder, module = handlers()[name]
    code = PROBE.format(paths=[str(ROOT / folder), str(ROOT / "layers/common")], module=module)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=ROOT, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_every_listed_handler_is_in_the_template() -> None:
    assert set(DEFERRED) <= set(handlers())


@pytest.mark.parametrize("name", sorted(DEFERRED))
def test_the_handler_import_leaves_deferred_modules_out(name: str) -> None:
    loaded = imported(name)
    assert "bridge" in loaded  # the probe did import the handler
    assert sorted(set(DEFERRED[name]) & loaded) == []
