"""Cold start: import time of each handler next to importing its third-party dependencies alone (issue 12:
every handler's import at most 1.15 × its dependencies alone).

Every function of template.yaml is measured (its CodeUri and Handler), so a new one cannot be missed. The
baseline of a handler is the exact set of third-party modules its import loads (found by importing it once),
imported without any project code. Both are timed the same way: the same interpreter and flags, the same
environment, working directory and sys.path (the function's folder and the layer first, as in Lambda), each in a
fresh process, after one untimed run of each (bytecode written). The two are interleaved (A B B A ...), so a
machine whose load changes during the run weighs on both alike; each figure is the median of `runs`.

Both the wall time and the process's CPU time are given; the ratio is judged on CPU time: an import is CPU work
(the files are in the page cache), and on a shared machine the wall time also counts whatever else ran meanwhile.

Both imports run from inside a function call, as the Lambda runtime imports a handler (never at a script's top
level). On CPython 3.11 the cost of deeply nested imports depends on the exact stack depth they start at: the
order worker imported at the top level of `python -c` took ~6,000 more page faults (50-100 ms of system time,
in urllib3's and asyncio's imports) than the same import one call deeper, a property of the harness, not of
the handler.

Why, and what the runs do about it: CPython 3.11 keeps frames in 16 KB stack chunks and frees a chunk as soon as
the frame at its base returns, so recursive code that keeps crossing a chunk's edge (urllib3.util.url compiling
its regular expressions at import, in the pure-Python `re` parser) maps and unmaps a chunk on every crossing: the
document file route's import unmapped 3,104 chunks, 2,869 of them in urllib3.util.url, where its dependencies
alone unmapped 21 (strace). Whether that happens depends only on where the stack stands when urllib3 is imported,
which one frame more or less changes (50-100 ms either way), and where Lambda's runtime stands is not ours to
reproduce. So each pair of runs (handler, dependencies alone) starts from the same extra depth, spread evenly
over one chunk (PAD_FRAMES: `pad` frames per 16 KB, measured), and the medians weigh every place alike for both.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 1.15  # issue 12
PAD_FRAMES = 185  # frames of TIMED's `pad` that fill one 16 KB stack chunk on CPython 3.11 (see the docstring)
ENV = {"TABLE_NAME": "t", "POWERTOOLS_METRICS_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1",
       "PATH": "/usr/bin:/bin"}

TIMED = """
import sys, time
sys.path[:0] = {paths!r}


def load():
{statement}


def pad(frames):  # the import starts this many frames deeper (see the docstring)
    if frames:
        return pad(frames - 1)
    wall, cpu = time.perf_counter(), time.process_time()
    load()
    return time.perf_counter() - wall, time.process_time() - cpu


print(*pad({pad}))
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


def handlers() -> dict[str, tuple[str, str]]:
    """Every function of template.yaml: its folder and the module of its handler."""
    text = (ROOT / "template.yaml").read_text()
    found: dict[str, tuple[str, str]] = {}
    for block in re.split(r"\n  (?=\w+:\n    Type:)", text):
        head = re.match(r"(\w+):\n    Type: AWS::Serverless::Function", block)
        code = re.search(r"\n      CodeUri:\s*(\S+)", block)
        handler = re.search(r"\n      Handler:\s*(\S+)", block)
        if head and code and handler:
            found[head.group(1)] = (code.group(1).rstrip("/"), handler.group(1).rsplit(".", 1)[0])
    return found


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, check=True, cwd=ROOT)
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def _seconds(statement: str, paths: list[str], pad: int = 0) -> tuple[float, float]:
    """Wall and CPU seconds of the statement (imports) run in a function of a fresh interpreter, `pad` frames deep."""
    body = "\n".join(f"    {line}" for line in statement.splitlines())
    wall, cpu = _python(TIMED.format(paths=paths, statement=body, pad=pad)).split()
    return float(wall), float(cpu)


Times = list[tuple[float, float]]


def measure(module: str, paths: list[str], runs: int) -> tuple[Times, Times, int]:
    """(wall, CPU) seconds of each import of the handler and of its third-party modules alone (interleaved), and
    how many those modules are."""
    modules = [m for m in _python(THIRD_PARTY.format(paths=paths, module=module)).split(",") if m]
    baseline = "\n".join(f"import {m}" for m in modules)
    handler = f"import {module}"
    _seconds(baseline, paths), _seconds(handler, paths)  # untimed: bytecode written, files in the page cache
    deps: Times = []
    own: Times = []
    for i in range(runs):
        pair = [(deps, baseline), (own, handler)]
        depth = i * PAD_FRAMES // runs  # the same for both imports of the pair; spread over one stack chunk
        for times, statement in pair if i % 2 == 0 else reversed(pair):
            times.append(_seconds(statement, paths, depth))
    return own, deps, len(modules)


def run(runs: int = 15) -> dict[str, object]:
    layer = str(ROOT / "layers/common")
    figures = {}
    for name, (folder, module) in handlers().items():
        own, deps, count = measure(module, [str(ROOT / folder), layer], runs)
        wall, cpu = (statistics.median(t[0] for t in own), statistics.median(t[1] for t in own))
        deps_wall, deps_cpu = (statistics.median(t[0] for t in deps), statistics.median(t[1] for t in deps))
        figures[name] = {
            "import_cpu_ms": round(cpu * 1000, 1), "dependencies_alone_cpu_ms": round(deps_cpu * 1000, 1),
            "ratio": round(cpu / deps_cpu, 3), "within_limit": cpu <= LIMIT * deps_cpu,
            "import_wall_ms": round(wall * 1000, 1), "dependencies_alone_wall_ms": round(deps_wall * 1000, 1),
            "wall_ratio": round(wall / deps_wall, 3), "third_party_modules": count}
    return {"benchmark": "cold_start_imports", "runs_each": runs, "limit_ratio": LIMIT, "handlers": figures}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
