"""template.yaml is the single source of truth: these checks keep it honest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstack.template import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template.load(ROOT / "template.yaml")


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {r.logical_id: r.properties for r in TEMPLATE.of_type(kind)}


FUNCTIONS = resources("AWS::Serverless::Function")
QUEUES = resources("AWS::SQS::Queue")


def _ref_target(value: Any) -> str:
    """Logical id behind !GetAtt X.Arn / !Ref X as the loader represents them."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".")[0]
        if "Ref" in value:
            return str(value["Ref"])
    raise AssertionError(f"not a reference: {value!r}")


def sqs_sources() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for name, props in FUNCTIONS.items():
        for event in (props.get("Events") or {}).values():
            if event["Type"] == "SQS":
                found.append((name, _ref_target(event["Properties"]["Queue"]), event["Properties"]))
    return found


def timeout_of(function: str) -> int:
    globals_timeout = TEMPLATE.body.get("Globals", {}).get("Function", {}).get("Timeout", 3)
    return int(FUNCTIONS[function].get("Timeout", globals_timeout))


def test_every_work_queue_has_a_dead_letter_queue_that_keeps_messages_longer() -> None:
    dlqs = {_ref_target(p["RedrivePolicy"]["deadLetterTargetArn"]) for p in QUEUES.values() if "RedrivePolicy" in p}
    work = [name for name in QUEUES if name not in dlqs]
    assert work, "no work queue found"
    for name in work:
        policy = QUEUES[name].get("RedrivePolicy")
        assert policy, f"{name} has no dead-letter queue"
        assert int(policy["maxReceiveCount"]) >= 5, name
        dlq = QUEUES[_ref_target(policy["deadLetterTargetArn"])]
        assert int(dlq.get("MessageRetentionPeriod", 345600)) > int(QUEUES[name].get("MessageRetentionPeriod", 345600))


@pytest.mark.parametrize(("function", "queue", "props"), sqs_sources(), ids=lambda v: v if isinstance(v, str) else "")
def test_sqs_consumers_follow_the_six_times_rule_and_report_partial_failures(
    function: str, queue: str, props: dict
) -> None:
    assert int(QUEUES[queue]["VisibilityTimeout"]) >= 6 * timeout_of(function)
    assert props.get("FunctionResponseTypes") == ["ReportBatchItemFailures"]
    assert props.get("ScalingConfig", {}).get("MaximumConcurrency"), "unbounded consumers can exhaust API quotas"


def test_every_queue_has_a_consumer_or_is_a_dead_letter_queue() -> None:
    consumed = {queue for _, queue, _ in sqs_sources()}
    dlqs = {_ref_target(p["RedrivePolicy"]["deadLetterTargetArn"]) for p in QUEUES.values() if "RedrivePolicy" in p}
    assert set(QUEUES) == consumed | dlqs


def test_every_dead_letter_queue_has_an_alarm() -> None:
    dlqs = {_ref_target(p["RedrivePolicy"]["deadLetterTargetArn"]) for p in QUEUES.values() if "RedrivePolicy" in p}
    watched = set()
    for alarm in resources("AWS::CloudWatch::Alarm").values():
        for dimension in alarm.get("Dimensions", []):
            if dimension["Name"] == "QueueName":
                watched.add(_ref_target(dimension["Value"]))
    assert dlqs <= watched


def test_every_table_has_point_in_time_recovery_and_ttl() -> None:
    for name, table in resources("AWS::DynamoDB::Table").items():
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert table["TimeToLiveSpecification"]["Enabled"] is True, name


def test_runtime_matches_the_python_that_builds_it() -> None:
    import sys

    runtime = TEMPLATE.body["Globals"]["Function"]["Runtime"]
    assert runtime == f"python{sys.version_info.major}.{sys.version_info.minor}"
    layer = TEMPLATE.resources["CommonLayer"]
    assert layer.metadata["BuildMethod"] == runtime
    assert not (ROOT / "layers/common/python").exists(), "sam build puts the layer under python/ itself"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_handler_string_imports(function: str) -> None:
    import importlib.util
    import sys

    props = FUNCTIONS[function]
    module, attribute = props["Handler"].rsplit(".", 1)
    path = ROOT / props["CodeUri"] / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"handler_check_{function}", path)
    assert spec and spec.loader, path
    loaded = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(loaded)
    finally:
        sys.path.remove(str(path.parent))
    assert callable(getattr(loaded, attribute))


def test_the_workers_time_reserves_fit_their_functions_timeouts() -> None:
    """A record is started only with START_SECONDS left, calls end REPORT_SECONDS before the timeout, and a
    catalog record started then has time for one whole impatient call: no batch can outlive its function."""
    from bridge import batch
    from bridge.shops.context import IMPATIENT_TIMEOUT

    for name in ("BsaleWorkerFunction", "JumpsellerOrderWorkerFunction"):
        assert FUNCTIONS[name]["Timeout"] >= batch.REPORT_SECONDS + 2 * batch.START_SECONDS, name
    assert sum(IMPATIENT_TIMEOUT) <= batch.START_SECONDS
    # A slow shop's records come back after SLOW_SHOP_DELAY: well within SQS's 15-minute delay limit
    assert 0 < batch.SLOW_SHOP_DELAY <= 900
