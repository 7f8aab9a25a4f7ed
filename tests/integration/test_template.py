"""template.yaml is the single source of truth: these checks keep it honest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstack.template import Resolver, Template

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


# -- the public edge -------------------------------------------------------------------------------------------------

def api_routes() -> list[tuple[str, str, str]]:
    """(function, path, method) of every API route the template serves."""
    return [(name, event["Properties"]["Path"], event["Properties"]["Method"].upper())
            for name, props in FUNCTIONS.items() for event in (props.get("Events") or {}).values()
            if event["Type"] == "Api"]


def _method_settings() -> dict[tuple[str, str], dict[str, Any]]:
    settings = TEMPLATE.body["Globals"]["Api"]["MethodSettings"]
    return {(s["ResourcePath"], s["HttpMethod"].upper()): s for s in settings}


def test_the_api_is_throttled_for_the_whole_stage_and_each_route() -> None:
    settings = _method_settings()
    stage = settings[("/*", "*")]  # also covers any route added later
    assert 0 < stage["ThrottlingRateLimit"] <= stage["ThrottlingBurstLimit"]
    assert api_routes(), "no API route found"
    for function, path, method in api_routes():
        # Stage method settings write every slash of the path as ~1, after a leading slash: /a/b is /~1a~1b.
        route = settings.get(("/" + path.replace("/", "~1"), method))
        assert route is not None, f"{method} {path} ({function}) has no throttle of its own"
        assert 0 < route["ThrottlingRateLimit"] <= stage["ThrottlingRateLimit"], path
        assert route["ThrottlingRateLimit"] <= route["ThrottlingBurstLimit"] <= stage["ThrottlingBurstLimit"], path


def _reserved(function: str) -> int:
    value = FUNCTIONS[function].get("ReservedConcurrentExecutions")
    assert isinstance(value, dict) and "Fn::If" in value, f"{function} reserves no concurrency"
    condition, reserved, otherwise = value["Fn::If"]
    assert condition == "Reserving" and otherwise == {"Ref": "AWS::NoValue"}, function
    assert isinstance(reserved, int) and reserved > 0, function
    return reserved


def test_every_function_has_reserved_concurrency_so_a_flood_cannot_starve_another() -> None:
    for function in FUNCTIONS:
        _reserved(function)
    # Queue consumers reserve what their queue may run: never starved by a webhook flood, never more than that.
    for function, _queue, props in sqs_sources():
        assert _reserved(function) == props["ScalingConfig"]["MaximumConcurrency"], function
    # The webhook functions cannot exceed their own share however many requests the throttle lets through.
    for function, _path, _method in api_routes():
        assert _reserved(function) <= 50, function
    # AWS keeps 100 unreserved: the parameter says which account limit that needs, and it adds up.
    total = sum(_reserved(function) for function in FUNCTIONS)
    description = " ".join(TEMPLATE.body["Parameters"]["ReserveConcurrency"]["Description"].split())
    assert f"at least {total + 100}" in description
    assert TEMPLATE.body["Conditions"]["Reserving"] == {"Fn::Equals": [{"Ref": "ReserveConcurrency"}, "true"]}


def test_throttles_and_reservations_say_why() -> None:
    lines = (ROOT / "template.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if "ReservedConcurrentExecutions:" in line:
            assert lines[i - 1].strip().startswith("#"), f"line {i + 1}: a reservation without its reason"
        if line.strip() == "MethodSettings:":
            assert any(text.strip().startswith("#") for text in lines[i - 6:i]), "throttling without its reason"


def _ssm_resources(function: str) -> list[str]:
    found = []
    for policy in FUNCTIONS[function].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("ssm:") for a in actions):
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [
                    statement["Resource"]]
                found += [r["Fn::Sub"] if isinstance(r, dict) else r for r in resources]
    return found


# Internet-facing, yet every request is signed in (the session of an OAuth install) and acts for that shop only:
# the shop panel needs the shop's API tokens to do what its owner presses (F18).
SIGNED_IN = {"PanelFunction"}


def test_each_function_may_read_only_the_secrets_it_needs() -> None:
    facing = {function for function, _path, _method in api_routes()}
    for function in FUNCTIONS:
        for resource in _ssm_resources(function):
            # /app/credentials: the Jumpseller app's OAuth client, to refresh a shop's tokens (F17).
            assert resource.endswith(("/shops/*/credentials", "/shops/*/hooks", "/app/credentials")), (
                function, resource)
            if function in facing and function not in SIGNED_IN:
                # Internet-facing: the hooks token alone, never the shop's Bsale or Jumpseller API tokens.
                assert resource.endswith("/shops/*/hooks"), (function, resource)


# ------------------------------------------------------------------------------------------- alarms reach a person

ALARM_TOPICS = resources("AWS::SNS::Topic")


def test_one_alarm_topic_per_stage() -> None:
    assert list(ALARM_TOPICS) == ["AlarmTopic"]
    assert "${Stage}" in ALARM_TOPICS["AlarmTopic"]["TopicName"]["Fn::Sub"]


@pytest.mark.parametrize("alarm", sorted(resources("AWS::CloudWatch::Alarm")))
def test_every_alarm_reports_to_the_topic_when_it_fires_and_when_it_clears(alarm: str) -> None:
    props = resources("AWS::CloudWatch::Alarm")[alarm]
    assert props.get("AlarmActions") == [{"Ref": "AlarmTopic"}], f"{alarm} reaches nobody"
    assert props.get("OKActions") == [{"Ref": "AlarmTopic"}], f"{alarm} never says it cleared"


@pytest.mark.parametrize(("email", "subscribed"), [(None, False), ("", False), ("ops@example.com", True)])
def test_the_email_subscription_exists_only_when_an_address_is_given(email: str | None, subscribed: bool) -> None:
    resolver = Resolver(TEMPLATE, {} if email is None else {"AlarmEmail": email})
    subscriptions = [r for r in TEMPLATE.of_type("AWS::SNS::Subscription") if resolver.included(r)]
    assert len(subscriptions) == int(subscribed)
    for subscription in subscriptions:
        props = resolver.resolve(subscription.properties)
        assert (props["Protocol"], props["Endpoint"]) == ("email", email)
        assert subscription.properties["TopicArn"] == {"Ref": "AlarmTopic"}


def test_the_readme_alarm_table_lists_every_alarm_of_the_template() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| alarm | fires when | why |"):]
    table = table[:table.index("\n\n")]
    listed = {name for row in table.splitlines()[2:] for name in row.split("|")[1].replace("`", "").split(",")}
    assert {n.strip() for n in listed} == set(resources("AWS::CloudWatch::Alarm"))
