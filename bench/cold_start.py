"""Cold start: import time of each handler next to importing its third-party dependencies alone.

The baseline of a handler is the exact set of third-party modules its import loads (found by importing it
once), imported without any project code. Each figure is the median over fresh interpreter processes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = {
    "BsaleWebhookFunction": ("functions/bsale_notifications", "app"),
    "BsaleWorkerFunction": ("functions/catalog_worker", "app"),
    "JumpsellerOrderFunction": ("functions/jumpseller_webhooks", "app"),
    "JumpsellerOrderWorkerFunction": ("functions/order_worker", "app"),
    "ScheduledSyncFunction": ("functions/schedule", "app"),
}
ENV = {"TABLE_NAME": "t", "POWERTOOLS_METRICS_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1",
       "PATH": "/usr/bin:/bin"}

TIMED = """
import sys, time
sys.path[:0] = {paths!r}
t = time.perf_counter()
{statement}
print(time.perf_counter() - t)
"""
# Lists the third-party modules (from site-packages) that importing the handler loaded.
THIRD_PARTY = """
import sys
sys.path[:0] = {paths!r}
before = set(sys.modules)
import {module}
names = sorted(n for n in set(sys.modules) - before
               if "site-packages" in (getattr(sys.modules[n], "__file__", None) or ""))
print(",".join(names))
"""


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, check=True, cwd=ROOT)
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def _median_ms(statement: str, paths: list[str], runs: int) -> float:
    times = [float(_python(TIMED.format(paths=paths, statement=statement))) for _ in range(runs)]
    return round(statistics.median(times) * 1000, 1)


def run(runs: int = 7) -> dict[str, object]:
    layer = str(ROOT / "layers/common")
    handlers = {}
    for name, (folder, module) in HANDLERS.items():
        paths = [str(ROOT / folder), layer]
        modules = _python(THIRD_PARTY.format(paths=paths, module=module)).split(",")
        baseline = "\n".join(f"import {m}" for m in modules if m)
        deps = _median_ms(baseline, [], runs)
        ms = _median_ms(f"import {module}", paths, runs)
        handlers[name] = {"import_ms": ms, "dependencies_alone_ms": deps, "project_code_ms": round(ms - deps, 1),
                          "third_party_modules": len(modules)}
    return {"benchmark": "cold_start_imports", "runs_each": runs, "handlers": handlers}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
