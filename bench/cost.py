"""What a deployment costs a month: the calls each unit of work makes, at the prices in bench/prices.json.

Units: 1,000,000 Bsale notifications (stock changes) and 10,000 orders a month, plus one shop's daily reconcile
of 10,000 SKUs. Per-unit counts come from the benches (notifications: 1 Bsale read + 1 Jumpseller write per
change; reconcile: 401 API calls, under 0.25 quota writes per call in bulk) and from the code path of each flow
(the AWS calls its handlers make); Lambda durations are ESTIMATES for a deployed function, stated below, not
measured on this machine. Memory sizes are read from template.yaml. Prices: bench/prices.json, with their date;
they must be checked before a decision. No free tier is applied.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Per unit of work: the calls it makes. `lambda`: (function, estimated billed ms) per invocation.
NOTIFICATION = {
    "api_requests": 1,
    "lambda": [("BsaleWebhookFunction", 60), ("BsaleWorkerFunction", 400)],
    # ack: conditional stamp of the shop item (~1.5 KB: 2 units); worker: 2 quota writes (one per API call,
    # webhooks take one grant at a time), 1 link write.
    "dynamodb_writes": 2 + 2 + 1,
    "dynamodb_reads": 0.5 + 0.5 + 1,  # shop and link (eventually consistent), one quota re-read after a lost race
    "sqs_requests": 3,  # send, receive (batched by the event source; 1 at low traffic), delete
    "log_kb": 4,
}
ORDER = {
    "api_requests": 1,
    "lambda": [("JumpsellerOrderFunction", 80), ("JumpsellerOrderWorkerFunction", 2500)],
    "dynamodb_writes": 12,  # receipt, order record and its steps, holds, quota grants for ~4 API calls
    "dynamodb_reads": 6,
    "sqs_requests": 3,
    "log_kb": 10,
}
RECONCILE_10K = {  # one shop's reconcile of 10,000 SKUs, 1 % drift
    "api_requests": 0,
    "lambda": [("SyncWorkerFunction", 70_000)],
    "dynamodb_writes": 401 * 0.25 + 100 + 20,  # quota grants (batched), drifted links, checkpoints
    "dynamodb_reads": 10_000 * 0.5 / 8 + 10,  # the links, queried in 4 KB pages, eventually consistent
    "sqs_requests": 3 * 5,
    "log_kb": 50,
}
# Always there, whatever the traffic: SQS event sources long-poll each queue (about 5 pollers, one empty
# receive every 20 s each), the template's alarms, and the custom metrics the functions emit.
IDLE_RECEIVES_PER_QUEUE = 5 * 3 * 60 * 24 * 30
QUEUES = 3
CUSTOM_METRICS = 12
COLD_STARTS_PER_1000 = 2  # each reads the shop's SSM SecureStrings (2 KMS decrypts); warm ones use the cache


def memory_sizes() -> dict[str, int]:
    text = (ROOT / "template.yaml").read_text()
    default = int(re.search(r"Globals:.*?MemorySize:\s*(\d+)", text, re.S).group(1))  # type: ignore[union-attr]
    sizes: dict[str, int] = {}
    for block in re.split(r"\n  (?=\w+:\n    Type:)", text):
        head = re.match(r"(\w+):\n    Type: AWS::Serverless::Function", block)
        if head:
            own = re.search(r"\n      MemorySize:\s*(\d+)", block)
            sizes[head.group(1)] = int(own.group(1)) if own else default
    return sizes


def monthly(unit: dict[str, Any], count: float, prices: dict[str, Any], sizes: dict[str, int], arch: str,
            api: str) -> dict[str, float]:
    lam = prices["lambda"]
    gb_seconds = sum(sizes.get(fn, 256) / 1024 * ms / 1000 for fn, ms in unit["lambda"]) * count
    invocations = len(unit["lambda"]) * count
    kms = count * COLD_STARTS_PER_1000 / 1000 * 2
    costs = {
        "lambda": gb_seconds * lam[f"{arch}_gb_second"] + invocations / 1e6 * lam["per_million_requests"],
        "api_gateway": unit["api_requests"] * count / 1e6 * prices["api_gateway"][f"{api}_per_million"],
        "sqs": unit["sqs_requests"] * count / 1e6 * prices["sqs"]["standard_per_million_requests"],
        "dynamodb": unit["dynamodb_writes"] * count / 1e6 * prices["dynamodb_on_demand"]["per_million_write_units"]
        + unit["dynamodb_reads"] * count / 1e6 * prices["dynamodb_on_demand"]["per_million_read_units"],
        "ssm_kms": kms / 10_000 * prices["ssm"]["kms_per_10000_requests"],
        "cloudwatch_logs": unit["log_kb"] * count / 1024 / 1024 * prices["cloudwatch"]["logs_ingested_per_gb"],
    }
    return {k: round(v, 2) for k, v in costs.items()} | {"total": round(sum(costs.values()), 2)}


def fixed(prices: dict[str, Any]) -> dict[str, float]:
    alarms = (ROOT / "template.yaml").read_text().count("Type: AWS::CloudWatch::Alarm")
    costs = {
        "sqs_idle_polling": IDLE_RECEIVES_PER_QUEUE * QUEUES / 1e6 * prices["sqs"]["standard_per_million_requests"],
        "alarms": alarms * prices["cloudwatch"]["standard_alarm_per_month"],
        "custom_metrics": CUSTOM_METRICS * prices["cloudwatch"]["custom_metric_per_month"],
    }
    return {k: round(v, 2) for k, v in costs.items()} | {"total": round(sum(costs.values()), 2)}


def run() -> dict[str, Any]:
    prices = json.loads((ROOT / "bench" / "prices.json").read_text())
    sizes = memory_sizes()
    options = {f"{arch}+{api}": {
        "1M_notifications": monthly(NOTIFICATION, 1_000_000, prices, sizes, arch, api),
        "10k_orders": monthly(ORDER, 10_000, prices, sizes, arch, api),
        "daily_reconcile_one_shop_10k_skus": monthly(RECONCILE_10K, 30, prices, sizes, arch, api),
    } for arch in ("x86_64", "arm64") for api in ("rest", "http")}
    for option in options.values():
        option["total"] = round(sum(v["total"] for v in option.values()), 2)  # type: ignore[index]
    base = options["x86_64+rest"]["total"]
    return {
        "prices": {"file": "bench/prices.json", "taken": prices["taken"]},
        "memory_mb": sizes,
        "fixed_monthly": fixed(prices),
        "monthly_usd": options,
        "saving_vs_x86_rest": {k: round(base - v["total"], 2) for k, v in options.items()},
        "rest_vs_http": {
            "needs": "per-route throttling (both: REST method settings, HTTP route settings); body limit 10 MB "
                     "(both; Bsale and Jumpseller bodies are a few KB); AWS WAF attaches to REST only; "
                     "usage plans and request validation are REST only",
            "latency": "HTTP APIs add less overhead than REST (AWS's own claim); not measured here: moto has "
                       "no API Gateway latency to compare",
        },
        "load": [round(x, 1) for x in os.getloadavg()],
    }
