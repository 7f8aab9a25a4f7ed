"""Mutation testing of the modules that carry the guarantees, with the fast tests as the judge (not part of CI).

    ./dev mutate [group ...]      # groups: see GROUPS; default all. Prints JSON, keeps it in bench/results/.
    MUTATION_SAMPLE=4 ./dev mutate ops    # only the first 4 mutants of each function (a quicker estimate)
    MUTATION_CHILDREN=2                   # mutants tested at once (default 2)
    MUTATION_BUDGET=1800                  # stop after this many seconds and report what was judged

mutmut (pinned in requirements-dev.txt) changes one thing at a time in a module (a `<` into `<=`, a constant, a
dropped call...) and runs the tests that execute that function: a mutant no test notices ("survived") is behaviour
nothing checks. Each group pairs modules with the unit tests that claim to cover them, so a run takes minutes.

mutmut names a mutant after its file's path, and the code is imported as `bridge...` from `layers/common`, so each
run works on a staged copy (in a temporary folder) with `bridge/` at its top; the repository is not touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# group: (modules to mutate, relative to bridge/; the tests that run against them)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "intake": (["intake/*.py"], ["tests/unit/test_bsale_notifications.py", "tests/unit/test_jumpseller_signature.py",
                                 "tests/unit/test_request_bodies.py", "tests/unit/test_jumpseller_intake.py"]),
    "store": (["store/*.py"], ["tests/unit/orders", "tests/unit/test_api_session.py"]),
    "sync": (["sync/stock.py", "sync/push.py", "sync/rules.py"],
             ["tests/unit/test_stock_rules.py", "tests/unit/test_link_plan.py", "tests/unit/sync",
              "tests/unit/orders/test_flow.py"]),
    "orders": (["models/order_record.py", "orders/flow.py"],
               ["tests/unit/orders", "tests/unit/test_shop_checkout_fields.py"]),
    "documents": (["documents/amounts.py", "documents/rut.py"], ["tests/unit/documents"]),
    "ops": (["redact.py", "ops/dead_letters.py"], ["tests/unit/ops", "tests/unit/test_logs.py"]),
    # One module each with only its own unit tests, for a run of minutes on a shared machine. The Facto totals
    # property test (10,100 examples) is left out of "amounts": it alone would take minutes per mutant.
    # models/order_record.py has no group of its own: mutmut mutates function bodies only and skips decorated ones, and
    # the record is declarations and two properties (0 mutants).
    "amounts": (["documents/amounts.py"], ["tests/unit/documents/test_amounts.py",
                                           "tests/unit/documents/test_builder.py"]),
    "rut": (["documents/rut.py"], ["tests/unit/documents/test_rut.py", "tests/unit/documents/test_choice.py",
                                   "tests/unit/test_shop_checkout_fields.py"]),
    "stock": (["sync/stock.py", "sync/rules.py"], ["tests/unit/test_stock_rules.py", "tests/unit/sync"]),
    "push": (["sync/push.py"], ["tests/unit/sync"]),
    "links": (["store/links.py", "store/held.py"], ["tests/unit/orders/test_store.py", "tests/unit/sync"]),
    "steps": (["orders/steps/*.py"], ["tests/unit/orders", "tests/unit/test_shop_checkout_fields.py"]),
}

# mutmut 3.7 (the newest that installs beside aws-sam-cli's click) reads `item._nodeid`, which pytest 9 dropped.
SHIM = ("import _pytest.nodes as n; n.Node._nodeid = property(lambda self: self.nodeid); "
        "import sys; from mutmut.__main__ import cli; sys.argv[0] = 'mutmut'; cli()")

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout",
          24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", 37: "caught by type check"}


def stage(workdir: Path) -> None:
    """The repository without git and venv, with the domain package at the top (where mutmut expects it)."""
    ignore = shutil.ignore_patterns(".git", ".venv", "mutants", "__pycache__", ".*_cache", ".aws-sam", "results")
    shutil.copytree(ROOT, workdir, ignore=ignore, dirs_exist_ok=True)
    shutil.copytree(ROOT / "layers/common/bridge", workdir / "bridge", ignore=ignore)


def configure(workdir: Path, modules: list[str], tests: list[str]) -> list[str]:
    present = [t for t in tests if (workdir / t).exists()]
    config = workdir / "pyproject.toml"
    also_copy = ["layers", "sandboxes", "devstack", "functions", "events", "checkout", "bench", "template.yaml"]
    config.write_text(config.read_text() + "\n[tool.mutmut]\n" + "\n".join([
        'source_paths = ["bridge"]',
        f"only_mutate = {json.dumps([f'bridge/{m}' for m in modules])}",
        f"also_copy = {json.dumps(also_copy)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(present)}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]',
    ]) + "\n")
    return present


def results(workdir: Path) -> dict[str, Any]:
    by_module: dict[str, Any] = {}
    for meta in sorted((workdir / "mutants" / "bridge").rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        if not codes:
            continue
        module = meta.relative_to(workdir / "mutants").as_posix().removesuffix(".meta")
        counts: dict[str, int] = {}
        survivors = []
        for name, code in sorted(codes.items()):
            status = STATUS.get(code, "not checked" if code is None else "suspicious")
            counts[status] = counts.get(status, 0) + 1
            if status == "survived":
                survivors.append(name)
        judged = counts.get("killed", 0) + counts.get("survived", 0) + counts.get("timeout", 0)
        by_module[module] = {
            "mutants": len(codes), **counts,
            # a timeout counts as killed: the mutant made the tests hang, which they noticed
            "kill_rate": round((counts.get("killed", 0) + counts.get("timeout", 0)) / judged, 3) if judged else None,
            "survivors": survivors,
        }
    return by_module


def run(groups: list[str], children: int, sample: int, budget: float | None) -> dict[str, Any]:
    """One mutmut run over the chosen groups: their modules, judged by the union of their tests."""
    modules = [m for g in groups for m in GROUPS[g][0]]
    tests = list(dict.fromkeys(t for g in groups for t in GROUPS[g][1]))
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        workdir = Path(tmp)
        stage(workdir)
        present = configure(workdir, modules, tests)
        started = time.monotonic()
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        mutmut = [sys.executable, "-c", SHIM]
        # A sample takes the first `sample` mutants of every function (all functions, fewer changes each)
        names = [f"bridge.*__mutmut_{n}" for n in range(1, sample + 1)] if sample else []
        proc = subprocess.Popen([*mutmut, "run", "--max-children", str(children), *names], cwd=workdir, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=budget)
            finished = True
        except subprocess.TimeoutExpired:  # out of time: stop it, and report what was judged so far
            os.killpg(proc.pid, signal.SIGTERM)
            output, _ = proc.communicate()
            finished = False
        found = results(workdir)
        diffs = {}
        for module in found.values():  # the change each survivor made, for the reader of the report
            for survivor in module["survivors"]:
                shown = subprocess.run([*mutmut, "show", survivor], cwd=workdir, env=env,
                                       capture_output=True, text=True)
                diffs[survivor] = [ln for ln in shown.stdout.splitlines() if ln[:1] in "+-" and ln[:3] not in
                                   ("+++", "---")]
        return {"groups": groups, "modules": modules, "tests": present, "sample_per_function": sample or "all",
                "finished": finished, "seconds": round(time.monotonic() - started), "by_module": found,
                "survivor_changes": diffs,
                "log_tail": "" if finished and proc.returncode == 0 else output[-3000:]}


def main(argv: list[str]) -> int:
    chosen = argv or list(GROUPS)
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown:
        print(f"unknown group(s) {unknown}; choose from {list(GROUPS)}", file=sys.stderr)
        return 2
    children = int(os.environ.get("MUTATION_CHILDREN", "2"))
    sample = int(os.environ.get("MUTATION_SAMPLE", "0"))  # 0: every mutant
    budget = float(os.environ["MUTATION_BUDGET"]) if os.environ.get("MUTATION_BUDGET") else None
    report = run(chosen, children, sample, budget)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    (out / f"mutation-{'-'.join(chosen)}.json").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
