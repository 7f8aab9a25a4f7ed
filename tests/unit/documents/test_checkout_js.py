"""The checkout snippet's RUT and choice rules (JavaScript, run with node) agree with the Python ones (F14).

Node is required: without it this test fails, it is never skipped.
"""

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bridge.documents.choice import document_kind
from bridge.documents.rut import Rut, check_digit, parse_rut
from bridge.models.shop import CheckoutFields

ROOT = Path(__file__).resolve().parents[3]
SNIPPET = ROOT / "layers/common/bridge/panel/assets/rut-checkout.js"  # the one copy, served by the panel
RUNNER = """
const rules = require(process.argv[1]);
const inputs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const config = rules.CONFIG;
process.stdout.write(JSON.stringify({
  ruts: inputs.ruts.map((raw) => rules.validateRut(raw)),
  kinds: inputs.kinds.map((value) => rules.documentKind(value, config)),
}));
"""


def run_node(payload: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the checkout snippet cannot be checked (install node ≥ 18)")
    done = subprocess.run([node, "-e", RUNNER, str(SNIPPET)], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def python_rut(raw: str) -> dict[str, Any]:
    parsed = parse_rut(raw)
    if isinstance(parsed, Rut):
        return {"valid": True, "rut": str(parsed), "display": parsed.display}
    return {"valid": False, "problem": parsed.problem.value}


def rut_inputs() -> list[str]:
    known = ["12.345.678-5", "12.345.678-9", "12.345.678-K", "66.666.666-6", "96874030-k", "9.68.7403.0-k",
             "77.879.240-0", "60.803.000-K", "1-9", "1.111.111-4", "", "   ", "K", "5", "0-0", "00012345678-5",
             "123.456.789-2", "12,345,678–5", "12 345 678 5", "12a45678-5", "１２３４５６７８-5", "12345678-5\n",
             "99.999.999-9", "100.000-4", "99.999-0"]
    rng = random.Random(14)
    alphabet = "0123456789" * 4 + "kK..--  ,x"
    noise = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(1500)]
    bodies = [rng.randint(100_000, 99_999_999) for _ in range(500)]
    valid = [f"{body:,}".replace(",", ".") + f"-{check_digit(body)}" for body in bodies]
    return known + noise + valid


def test_js_rut_rules_match_python_on_the_same_inputs() -> None:
    # Given known RUTs, 1,500 random strings and 500 valid RUTs with dots
    inputs = rut_inputs()
    # When the snippet's validateRut runs on them under node
    from_js = run_node({"ruts": inputs, "kinds": []})["ruts"]
    # Then every verdict, problem code and formatted RUT is the one the documents will use
    mismatches = [(raw, js, python_rut(raw)) for raw, js in zip(inputs, from_js, strict=True) if js != python_rut(raw)]
    assert mismatches == []
    assert sum(1 for result in from_js if result["valid"]) >= 500


def test_js_choice_matching_matches_python() -> None:
    # Given the document values shops use (and some that are not choices)
    values = ["boleta", "Factura", "FACTURA ELECTRÓNICA", "Boleta electrónica", "33", "39", "Factura (empresas)",
              "Boleta o Factura", "Sí", "", "factura/boleta", "  Factura  ", "Facturá"]
    # When the snippet's documentKind runs under node
    from_js = run_node({"ruts": [], "kinds": values})["kinds"]
    # Then it reads each value as the builder will
    fields = CheckoutFields()
    from_python = [kind.value if (kind := document_kind(v, fields)) else None for v in values]
    assert from_js == from_python


def test_js_defaults_are_the_python_defaults() -> None:
    # The snippet's default labels and values are those of CheckoutFields, so checkout and documents agree
    text = SNIPPET.read_text(encoding="utf-8")
    fields = CheckoutFields()
    for label in (*fields.document_labels, *fields.giro_labels[:1], *fields.razon_social_labels):
        assert f"'{label}'" in text
    for value in (*fields.boleta_values, *fields.factura_values):
        assert f"'{value}'" in text
