"""./dev bench [name ...]: run the benchmarks and print one JSON document."""

from __future__ import annotations

import json
import logging
import os
import sys

sys.path[:0] = [".", "layers/common"]
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from bench import (  # noqa: E402
    cold_start,
    cost,
    fairness,
    fleet,
    import_cycles,
    notifications,
    propagation,
    quota,
    reconcile,
    sii_watch,
)

BENCHES = {"cold_start": cold_start.run, "notifications": notifications.run, "reconcile": reconcile.run,
           "fairness": fairness.run, "sii_watch": sii_watch.run, "cost": cost.run,
           "imports": import_cycles.run, "fleet": fleet.run, "propagation": propagation.run,
           "quota": quota.run}

if __name__ == "__main__":
    logging.disable(logging.INFO)
    chosen = sys.argv[1:] or list(BENCHES)
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        print(f"usage: ./dev bench [{'|'.join(BENCHES)} ...]" + (
            "" if unknown in (["-h"], ["--help"]) else f"\nno bench named {', '.join(unknown)}"), file=sys.stderr)
        sys.exit(0 if unknown in (["-h"], ["--help"]) else 2)
    # The local stack forwards its functions' log lines (botocore's INFO among them, as on Lambda) to this
    # process's stdout: while the benches run they go to stderr with the tables, so stdout is the JSON alone.
    out, sys.stdout = sys.stdout, sys.stderr
    try:
        results = {name: BENCHES[name]() for name in chosen}
    finally:
        sys.stdout = out
    print(json.dumps(results, indent=2))
