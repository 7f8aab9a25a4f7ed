"""Every metric the code emits has an alarm, and the dead-letter registry is the template's.

Metrics are found by reading the code (its syntax tree), not by running it: each `add_metric(name=...)` must be a
literal name, or a computed name this test knows: `Rejected<Code>` (bridge/inbound.py, expanded from the error
classes) or a family of counters listed below. Anything else fails, so no metric slips in unnoticed.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bridge import errors
from bridge.ops.dead_letters import REGISTRY
from devstack.template import Template

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = Template.load(ROOT / "template.yaml")
ENVIRONMENT = TEMPLATE.body["Globals"]["Function"]["Environment"]["Variables"]
NAMESPACE = ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]

# Counted for dashboards and investigations, deliberately without an alarm, and why.
COUNTED_NOT_ALARMED = {
    "RejectedBadRequest": "malformed bodies from the open internet; a broken Bsale or Jumpseller shows as a stale "
                          "shop or a dead letter instead",
    "RejectedPayloadTooLarge": "oversized bodies are refused before anything is read; noise, not a fault of ours",
    "RejectedBadConfiguration": "raised by connect-shop (an operator command that prints it), never by a webhook",
    "RejectedDeadLetters": "raised by the dlq operator commands only, never by a webhook",
    "RejectedBadCursor": "raised by the status operator command (a --cursor it did not print), never by a webhook",
    "RejectedOrderBusy": "raised in the order worker (SQS tries the event again), never by a webhook",
    "VariantsGoneFromBsale": "a notification outlived its variant (deleted in Bsale): the shop's own catalog "
                            "change, not a fault; the link goes with its reason, which the shop's status shows",
    "UpstreamThrottled": "a 429 is waited out and the work deferred, never failed; one that lasts ends in a "
                         "dead-letter queue, whose alarm fires (the dashboard plots them)",
    "PropagationLatency": "a dashboard figure; changes that never arrive show as dead letters or a stale shop",
    "DocumentLatency": "a dashboard figure; a document that cannot be made raises FailedDocuments",
}
# Computed names, by their literal prefix, that are counters for dashboards rather than alarms.
COUNTED_FAMILIES = {
    "Orders": "orders turned into documents, consumptions, credit notes, restocks: throughput, not trouble "
              "(the trouble is FailedDocuments)",
}
# Alarms the template holds before the code that emits their metric lands.
EMITTED_ELSEWHERE_SOON: dict[str, str] = {}

# bridge/inbound.py: metrics.add_metric(name=f"Rejected{exc.code.title().replace('_', '')}", ...)
REJECTED_PATTERN = "Rejected{exc.code.title().replace('_', '')}"


def rejected_names() -> set[str]:
    """Every 4xx error class of the package (all its modules imported, so none is missed), as inbound.py names it."""
    import importlib
    import pkgutil

    import bridge

    for module in pkgutil.walk_packages(bridge.__path__, "bridge."):
        if not module.name.endswith(".__main__"):
            importlib.import_module(module.name)

    def every(cls: type[errors.BridgeError]) -> list[type[errors.BridgeError]]:
        return [cls, *(sub for child in cls.__subclasses__() for sub in every(child))]

    return {f"Rejected{cls.code.title().replace('_', '')}" for cls in every(errors.BridgeError) if cls.status < 500}


def emitted_metrics() -> dict[str, str]:
    """Metric name → where the code emits it."""
    found: dict[str, str] = {}
    sources = [*(ROOT / "layers/common/bridge").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    for path in sources:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if called not in ("add_metric", "single_metric"):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            name = next((k.value for k in node.keywords if k.arg == "name"), node.args[0] if node.args else None)
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                found[name.value] = where
            elif isinstance(name, ast.JoinedStr) and ast.unparse(name)[2:-1] == REJECTED_PATTERN:
                found.update(dict.fromkeys(rejected_names(), where))
            elif isinstance(name, ast.JoinedStr) and _prefix(name) in COUNTED_FAMILIES:
                found[f"{_prefix(name)}*"] = where
            else:
                pytest.fail(f"{where}: metric name {ast.unparse(name) if name else '?'} is computed in a way this "
                            "test cannot follow; use a literal name or teach tests/unit/ops/test_alarms.py the pattern")
    return found


def _prefix(name: ast.JoinedStr) -> str:
    first = name.values[0] if name.values else None
    return str(first.value) if isinstance(first, ast.Constant) else ""


def alarmed_metrics() -> dict[str, dict[str, Any]]:
    """Metric name → alarm properties, for alarms on the project's own namespace."""
    return {r.properties["MetricName"]: r.properties for r in TEMPLATE.of_type("AWS::CloudWatch::Alarm")
            if r.properties.get("Namespace") == NAMESPACE}


def test_the_scan_finds_the_metrics_we_know_about() -> None:
    emitted = emitted_metrics()
    assert {"StaleShops", "RejectedBadSignature", "RejectedUnknownShop"} <= set(emitted)


def test_every_metric_the_code_emits_has_an_alarm_or_a_reason_not_to() -> None:
    emitted, alarmed = emitted_metrics(), alarmed_metrics()
    excused = set(COUNTED_NOT_ALARMED) | {f"{family}*" for family in COUNTED_FAMILIES}
    missing = {name: where for name, where in emitted.items() if name not in alarmed and name not in excused}
    assert not missing, f"metrics without an alarm (add one to template.yaml, or a reason here): {missing}"
    assert not set(COUNTED_NOT_ALARMED) & set(alarmed), "a metric is both alarmed and excused"


def test_every_alarm_on_our_namespace_watches_a_metric_someone_emits() -> None:
    emitted = emitted_metrics()
    for name in alarmed_metrics():
        assert name in emitted or name in EMITTED_ELSEWHERE_SOON, f"alarm on {name}, which nothing emits"


@pytest.mark.parametrize("metric", sorted(alarmed_metrics()))
def test_alarms_match_the_dimensions_powertools_writes_and_say_why(metric: str) -> None:
    alarm = alarmed_metrics()[metric]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]  # Metrics(service=...) default dimension
    assert len(alarm.get("AlarmDescription", "")) > 40, "an alarm says what it means and what to do"
    assert alarm["TreatMissingData"] == "notBreaching"  # no metric published means nothing happened


def test_required_alarms_exist() -> None:
    alarmed = alarmed_metrics()
    assert {"StaleShops", "FailedDocuments", "RejectedBadSignature", "RejectedUnknownShop"} <= set(alarmed)
    for burst in ("RejectedBadSignature", "RejectedUnknownShop"):
        assert (alarmed[burst]["Statistic"], alarmed[burst]["Period"], alarmed[burst]["Threshold"]) == ("Sum", 300, 20)


# ------------------------------------------------------------------------------------------- dead-letter registry

def _target(value: Any) -> str:
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return str(value["Ref"])


def test_the_dead_letter_registry_is_the_templates() -> None:
    queues = {r.logical_id: r.properties for r in TEMPLATE.of_type("AWS::SQS::Queue")}
    pairs = {(name, _target(p["RedrivePolicy"]["deadLetterTargetArn"])) for name, p in queues.items()
             if "RedrivePolicy" in p}
    registered = {(q.source_resource, q.resource) for q in REGISTRY}
    assert registered == pairs, "add each new dead-letter queue to bridge/ops/dead_letters.py REGISTRY"
    for queue in REGISTRY:
        assert ENVIRONMENT.get(queue.source_env) == {"Ref": queue.source_resource}, queue
        assert queue.env not in ENVIRONMENT, "the functions never need a dead-letter queue's URL"
    assert len({q.name for q in REGISTRY}) == len(REGISTRY)
    # the worker marks a message dead-lettered at its last attempt: it must know where SQS stops
    assert {q.source_resource: q.max_receives for q in REGISTRY} == {
        name: p["RedrivePolicy"]["maxReceiveCount"] for name, p in queues.items() if "RedrivePolicy" in p}


def test_the_operator_environment_output_names_every_queue_the_cli_reads() -> None:
    text = TEMPLATE.outputs["OperatorEnvironment"]["Value"]["Fn::Sub"]
    given = dict(re.findall(r"(\w+)=\$\{(\w+)\}", text))
    for queue in REGISTRY:
        assert given.get(queue.env) == queue.resource and given.get(queue.source_env) == queue.source_resource
    assert given.get("TABLE_NAME") == "Table" and given.get("SECRETS_PREFIX") == "SecretsPrefix"


# ------------------------------------------------------------------------------------------- the dashboard

# AWS's own metrics the dashboard may plot: namespace → (the dimension naming the resource, its type, metrics).
AWS_METRICS = {
    "AWS/SQS": ("QueueName", "AWS::SQS::Queue", {"ApproximateNumberOfMessagesVisible",
                                                 "ApproximateAgeOfOldestMessage", "NumberOfMessagesSent"}),
    "AWS/Lambda": ("FunctionName", "AWS::Serverless::Function", {"Invocations", "Errors", "Throttles", "Duration"}),
    "AWS/ApiGateway": ("ApiName", "AWS::Serverless::Api", {"Count", "4XXError", "5XXError", "Latency"}),
}
DASHBOARDS = TEMPLATE.of_type("AWS::CloudWatch::Dashboard")


def dashboard_widgets() -> list[dict[str, Any]]:
    [dashboard] = DASHBOARDS
    body = json.loads(dashboard.properties["DashboardBody"]["Fn::Sub"])  # ${...} stand inside JSON strings
    return list(body["widgets"])


def dashboard_metrics() -> list[list[Any]]:
    """Every metric line of every graph: [namespace, name, dimension, value, ..., {options}]."""
    lines = [line for w in dashboard_widgets() if w["type"] == "metric" for line in w["properties"]["metrics"]]
    return [line[:-1] if isinstance(line[-1], dict) else line for line in lines]


def _resource_behind(value: str) -> str:
    """`${Logical}` or `${Logical.Attribute}` → Logical."""
    match = re.fullmatch(r"\$\{([A-Za-z0-9]+)(\.[A-Za-z]+)?\}", value)
    assert match, f"{value!r} does not name a resource of the stack"
    return match.group(1)


def _implicit_api_is_the_stacks(dimensions: dict[str, str]) -> bool:
    """SAM's implicit API (ServerlessRestApi, stage Prod, see the ApiUrl output) is named after the stack."""
    has_api_events = any(e.get("Type") == "Api" for f in TEMPLATE.of_type("AWS::Serverless::Function")
                         for e in (f.properties.get("Events") or {}).values())
    return has_api_events and dimensions == {"ApiName": "${AWS::StackName}", "Stage": "Prod"}


def test_one_dashboard_per_stage() -> None:
    [dashboard] = DASHBOARDS
    assert "${Stage}" in dashboard.properties["DashboardName"]["Fn::Sub"]


@pytest.mark.parametrize("line", dashboard_metrics(), ids=lambda line: f"{line[0]}:{line[1]}")
def test_every_metric_the_dashboard_plots_is_emitted_by_the_code_or_by_a_resource_of_the_stack(line: list) -> None:
    namespace, name, *pairs = line
    dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
    if namespace == NAMESPACE:
        emitted = emitted_metrics()
        family = next((f for f in COUNTED_FAMILIES if name.startswith(f) and f"{f}*" in emitted), None)
        assert name in emitted or family, f"the dashboard plots {name}, which nothing emits"
        assert dimensions == {"service": SERVICE}, "Powertools writes the service dimension alone"
        return
    assert namespace in AWS_METRICS, f"{namespace}: not a namespace the stack's resources publish to"
    dimension, resource_type, names = AWS_METRICS[namespace]
    assert name in names, f"{namespace} {name}"
    if namespace == "AWS/ApiGateway" and _implicit_api_is_the_stacks(dimensions):
        return
    assert list(dimensions) == [dimension]
    resource = TEMPLATE.resources.get(_resource_behind(dimensions[dimension]))
    assert resource is not None and resource.type == resource_type, f"{dimensions} is not a {resource_type} here"


def test_the_dashboard_shows_every_alarm_and_what_an_operator_looks_at_first() -> None:
    alarms = [w for w in dashboard_widgets() if w["type"] == "alarm"]
    listed = {_resource_behind(arn.removesuffix(".Arn}") + "}") for w in alarms for arn in w["properties"]["alarms"]}
    assert listed == {r.logical_id for r in TEMPLATE.of_type("AWS::CloudWatch::Alarm")}
    plotted = {line[1] for line in dashboard_metrics()}
    assert {"Invocations", "OrdersCreated", "PropagationLatency", "DocumentLatency",
            "ApproximateNumberOfMessagesVisible", "StaleShops", "UpstreamThrottled", "FailedDocuments"} <= plotted
    dead_letter_queues = {_resource_behind(line[3]) for line in dashboard_metrics()
                          if line[1] == "ApproximateNumberOfMessagesVisible"}
    assert dead_letter_queues == {q.resource for q in REGISTRY}
