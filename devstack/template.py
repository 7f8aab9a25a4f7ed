"""Reading a SAM/CloudFormation template and resolving its intrinsic functions to local values.

Nothing here talks to AWS or moto: :class:`Template` parses the file (short tags included) and merges
``Globals.Function`` into every function; :class:`Resolver` turns ``!Ref``/``!GetAtt``/``!Sub``... into the
values the local stack uses (deterministic names and ARNs, overridden by what moto really returned once a
resource exists).
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("devstack")

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
DEFAULT_STACK_NAME = "devstack"

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::Serverless::SimpleTable")
QUEUE_TYPE = "AWS::SQS::Queue"
FUNCTION_TYPE = "AWS::Serverless::Function"
LAYER_TYPE = "AWS::Serverless::LayerVersion"
SSM_TYPE = "AWS::SSM::Parameter"
SECRET_TYPE = "AWS::SecretsManager::Secret"
RULE_TYPE = "AWS::Events::Rule"
BUCKET_TYPE = "AWS::S3::Bucket"


class TemplateError(Exception):
    """The template cannot be read or uses something the local stack cannot make sense of."""


# ---------------------------------------------------------------------------------------------------------------
# YAML with CloudFormation short tags
# ---------------------------------------------------------------------------------------------------------------

# Only the intrinsics template.yaml uses (with Ref, GetAtt and Condition); any other is refused by name.
_FN_TAGS = ("Equals", "If", "Not", "Sub")


class CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that turns ``!Ref x`` into ``{"Ref": "x"}``, ``!Sub s`` into ``{"Fn::Sub": "s"}`` and so on."""


def _construct_node(loader: CfnLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise TemplateError(f"unexpected YAML node {node!r}")  # pragma: no cover


def _fn_constructor(name: str) -> Callable[[CfnLoader, yaml.Node], Any]:
    def construct(loader: CfnLoader, node: yaml.Node) -> Any:
        return {name: _construct_node(loader, node)}

    return construct


def _getatt_constructor(loader: CfnLoader, node: yaml.Node) -> Any:
    value = _construct_node(loader, node)
    if isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {"Fn::GetAtt": value}


for _tag in _FN_TAGS:
    CfnLoader.add_constructor(f"!{_tag}", _fn_constructor(f"Fn::{_tag}"))
CfnLoader.add_constructor("!Ref", _fn_constructor("Ref"))
CfnLoader.add_constructor("!Condition", _fn_constructor("Condition"))
CfnLoader.add_constructor("!GetAtt", _getatt_constructor)
# CloudFormation keeps dates such as AWSTemplateFormatVersion as strings.
CfnLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> Any:
    """Parse template text (YAML or JSON) with CloudFormation short tags."""
    return yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader


# ---------------------------------------------------------------------------------------------------------------
# Template
# ---------------------------------------------------------------------------------------------------------------


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref", "Condition"))


def merge_globals(global_props: Any, own: Any) -> Any:
    """SAM's Globals rules: maps merge (the resource wins), lists add up (globals first), scalars are replaced."""
    if isinstance(global_props, dict) and isinstance(own, dict):
        if _is_intrinsic(global_props) or _is_intrinsic(own):
            return copy.deepcopy(own)
        merged = copy.deepcopy(global_props)
        for key, value in own.items():
            merged[key] = merge_globals(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    if isinstance(global_props, list) and isinstance(own, list):
        return copy.deepcopy(global_props) + copy.deepcopy(own)
    return copy.deepcopy(own)


@dataclass
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]
    condition: str | None = None
    depends_on: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


class Template:
    """A parsed template. ``resources`` has ``Globals.Function`` already merged into every function."""

    def __init__(self, body: Mapping[str, Any], base_dir: Path | str = ".", path: Path | None = None) -> None:
        if not isinstance(body, Mapping) or not isinstance(body.get("Resources"), Mapping):
            raise TemplateError("a template needs a 'Resources' mapping")
        self.body: dict[str, Any] = dict(body)
        self.base_dir = Path(base_dir).resolve()
        self.path = path
        self.parameters: dict[str, dict[str, Any]] = dict(body.get("Parameters") or {})
        self.conditions: dict[str, Any] = dict(body.get("Conditions") or {})
        self.outputs: dict[str, Any] = dict(body.get("Outputs") or {})
        self.globals: dict[str, Any] = dict(body.get("Globals") or {})
        function_globals = self.globals.get("Function") or {}
        self.resources: dict[str, Resource] = {}
        for logical_id, raw in body["Resources"].items():
            if not isinstance(raw, Mapping) or "Type" not in raw:
                raise TemplateError(f"resource {logical_id} has no Type")
            props = dict(raw.get("Properties") or {})
            if raw["Type"] == FUNCTION_TYPE and function_globals:
                props = merge_globals(function_globals, props)
            depends = raw.get("DependsOn") or []
            self.resources[logical_id] = Resource(
                logical_id=logical_id,
                type=str(raw["Type"]),
                properties=props,
                condition=raw.get("Condition"),
                depends_on=[depends] if isinstance(depends, str) else list(depends),
                metadata=dict(raw.get("Metadata") or {}),
            )

    @classmethod
    def load(cls, path: Path | str) -> Template:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateError(f"cannot read template {path}: {exc}") from exc
        try:
            body = load_yaml(text)
        except yaml.YAMLError as exc:
            raise TemplateError(f"{path} is not valid YAML: {exc}") from exc
        return cls(body, base_dir=path.parent, path=path)

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type in types]

    def dependencies(self, resource: Resource) -> set[str]:
        """Logical ids this resource refers to (Ref, GetAtt, Sub, DependsOn) that exist in the template."""
        found: set[str] = set(resource.depends_on)
        _collect_refs(resource.properties, found)
        return {d for d in found if d in self.resources and d != resource.logical_id}

    def creation_order(self, resources: Iterable[Resource]) -> list[Resource]:
        """Order resources so that every resource comes after those it refers to (a DLQ before its queue)."""
        todo = {r.logical_id: r for r in resources}
        ordered: list[Resource] = []
        done: set[str] = set()

        def visit(res: Resource, stack: tuple[str, ...]) -> None:
            if res.logical_id in done:
                return
            if res.logical_id in stack:
                raise TemplateError(f"circular reference: {' -> '.join((*stack, res.logical_id))}")
            for dep in sorted(self.dependencies(res)):
                if dep in todo:
                    visit(todo[dep], (*stack, res.logical_id))
            done.add(res.logical_id)
            ordered.append(res)

        for res in todo.values():
            visit(res, ())
        return ordered


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _collect_refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        if len(node) == 1:
            key, value = next(iter(node.items()))
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                if isinstance(value, list) and value and isinstance(value[0], str):
                    found.add(value[0])
                elif isinstance(value, str):
                    found.add(value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) and value else value
                if isinstance(text, str):
                    for var in _SUB_VAR.findall(text):
                        if not var.startswith("!"):
                            found.add(var.split(".", 1)[0])
        for value in node.values():
            _collect_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, found)


# ---------------------------------------------------------------------------------------------------------------
# Resolver
# ---------------------------------------------------------------------------------------------------------------


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class Resolver:
    """Resolves intrinsic functions to local values.

    Names and ARNs are deterministic (``<stack>-<LogicalId>`` unless the template names the resource), so a
    template can be resolved before anything exists; :meth:`set_ref`/:meth:`set_attr` record what moto really
    returned (queue URLs, stream ARNs) once a resource has been created.
    """

    def __init__(
        self,
        template: Template,
        parameters: Mapping[str, Any] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        queue_url_base: str | None = None,
    ) -> None:
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.queue_url_base = queue_url_base or f"https://sqs.{region}.amazonaws.com"
        self.overrides = dict(parameters or {})
        unknown = set(self.overrides) - set(template.parameters)
        if unknown:
            log.warning("parameters not declared by the template (ignored): %s", ", ".join(sorted(unknown)))
        self._refs: dict[str, Any] = {}
        self._attrs: dict[tuple[str, str], Any] = {}
        self._conditions: dict[str, bool] = {}
        self._physical: dict[str, str] = {}
        self.parameter_values: dict[str, Any] = {
            name: self._parameter_value(name, spec) for name, spec in template.parameters.items()
        }

    # -- parameters and pseudo parameters ------------------------------------------------------------------------

    def _parameter_value(self, name: str, spec: Mapping[str, Any]) -> Any:
        spec = spec or {}
        if name in self.overrides:
            value = self.overrides[name]
            allowed = spec.get("AllowedValues")
            if allowed and str(value) not in [str(a) for a in allowed]:
                log.warning("parameter %s=%r is not one of its AllowedValues %s", name, value, allowed)
        elif "Default" in spec:
            value = spec["Default"]
        else:
            log.warning("parameter %s has no Default and no override; using an empty string", name)
            value = ""
        ptype = str(spec.get("Type", "String"))
        if ptype == "CommaDelimitedList" or (ptype.startswith("List<") and isinstance(value, str)):
            return [item.strip() for item in str(value).split(",")] if value != "" else []
        if ptype.startswith("AWS::SSM::Parameter::Value"):
            log.warning("parameter %s is an SSM parameter reference; using its name %r as its value", name, value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, list) else str(value)

    def pseudo(self, name: str) -> Any:
        values: dict[str, Any] = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/"
                "00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise TemplateError(f"unknown pseudo parameter {name}")
        return values[name]

    # -- names and attributes ------------------------------------------------------------------------------------

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{PARTITION}:{service}:{self.region}:{self.account_id}:{resource}"

    def physical_name(self, logical_id: str) -> str:
        """The name the local stack gives a resource: its declared name, else ``<stack>-<LogicalId>``."""
        if logical_id in self._physical:
            return self._physical[logical_id]
        res = self.template.resources.get(logical_id)
        name_prop = {
            QUEUE_TYPE: "QueueName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::DynamoDB::GlobalTable": "TableName",
            "AWS::Serverless::SimpleTable": "TableName",
            FUNCTION_TYPE: "FunctionName",
            LAYER_TYPE: "LayerName",
            SSM_TYPE: "Name",
            SECRET_TYPE: "Name",
            RULE_TYPE: "Name",
            BUCKET_TYPE: "BucketName",
        }.get(res.type if res else "", "")
        declared = res.properties.get(name_prop) if res and name_prop else None
        if declared is not None:
            name = str(self.resolve(declared))
        else:
            name = f"{self.stack_name}-{logical_id}"
            if res and res.type == QUEUE_TYPE and _truthy(self.resolve(res.properties.get("FifoQueue", False))):
                name = name[:75] + ".fifo"
            elif res and res.type == QUEUE_TYPE:
                name = name[:80]
            elif res and res.type == BUCKET_TYPE:  # S3: lower case, at most 63 characters
                name = name.lower()[:63].rstrip("-")
        self._physical[logical_id] = name
        return name

    def set_ref(self, logical_id: str, value: Any) -> None:
        self._refs[logical_id] = value

    def set_attr(self, logical_id: str, attribute: str, value: Any) -> None:
        self._attrs[(logical_id, attribute)] = value

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameter_values:
            return self.parameter_values[name]
        if name in self._refs:
            return self._refs[name]
        res = self.template.resources.get(name)
        if res is None:
            # SAM creates resources the template does not list (ServerlessRestApi, <Function>Role, ...).
            log.debug("Ref to %s, which the template does not declare; using a placeholder", name)
            return f"{self.stack_name}-{name}"
        physical = self.physical_name(name)
        if res.type == QUEUE_TYPE:
            return f"{self.queue_url_base.rstrip('/')}/{self.account_id}/{physical}"
        if res.type == LAYER_TYPE:
            return self.arn("lambda", f"layer:{physical}:1")
        if res.type == SECRET_TYPE:
            return self.arn("secretsmanager", f"secret:{physical}")
        if res.type == RULE_TYPE or res.type in TABLE_TYPES or res.type in (FUNCTION_TYPE, SSM_TYPE, BUCKET_TYPE):
            return physical
        return physical  # a harmless placeholder for roles, alarms, APIs...

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in self._attrs:
            return self._attrs[(logical_id, attribute)]
        res = self.template.resources.get(logical_id)
        rtype = res.type if res else ""
        name = self.physical_name(logical_id) if res else f"{self.stack_name}-{logical_id}"
        if rtype == QUEUE_TYPE:
            if attribute == "Arn":
                return self.arn("sqs", name)
            if attribute == "QueueName":
                return name
            if attribute == "QueueUrl":
                return self.ref(logical_id)
        elif rtype in TABLE_TYPES:
            if attribute == "Arn":
                return self.arn("dynamodb", f"table/{name}")
            if attribute == "StreamArn":
                return self.arn("dynamodb", f"table/{name}/stream/1970-01-01T00:00:00.000")
        elif rtype == FUNCTION_TYPE and attribute == "Arn":
            return self.arn("lambda", f"function:{name}")
        elif rtype == SSM_TYPE and res is not None:
            if attribute == "Value":
                return self.resolve(res.properties.get("Value", ""))
            if attribute == "Type":
                return self.resolve(res.properties.get("Type", "String"))
        elif rtype == RULE_TYPE and attribute == "Arn":
            return self.arn("events", f"rule/{name}")
        elif rtype == BUCKET_TYPE and attribute == "Arn":
            return f"arn:{PARTITION}:s3:::{name}"
        elif rtype == BUCKET_TYPE and attribute == "DomainName":
            return f"{name}.s3.amazonaws.com"
        elif rtype == SECRET_TYPE and attribute == "Id":
            return self.ref(logical_id)
        if res is None:
            log.debug("GetAtt %s.%s: resource not in the template; using a placeholder", logical_id, attribute)
        if attribute == "Arn" or attribute.endswith("Arn"):
            service = rtype.split("::")[1].lower() if rtype.count("::") >= 2 else "local"
            return self.arn(service, name)
        return f"{name}-{attribute}"

    # -- conditions ----------------------------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.template.conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = False  # guards against a condition that refers to itself
            self._conditions[name] = bool(self._condition_value(self.template.conditions[name]))
        return self._conditions[name]

    def _condition_value(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1 and "Condition" in node:
            return self.condition(str(node["Condition"]))
        value = self.resolve(node)
        return _truthy(value)

    def included(self, resource: Resource) -> bool:
        return resource.condition is None or self.condition(resource.condition)

    # -- resolution ----------------------------------------------------------------------------------------------

    def resolve(self, node: Any) -> Any:
        """Resolve every intrinsic function in ``node``. ``AWS::NoValue`` drops the key or list item."""
        if isinstance(node, dict):
            if len(node) == 1:
                key, arg = next(iter(node.items()))
                if key == "Ref":
                    return self.ref(str(self.resolve(arg)))
                if key == "Condition" and isinstance(arg, str):
                    return self.condition(arg)
                if key.startswith("Fn::"):
                    return self._fn(key[4:], arg)
            out: dict[str, Any] = {}
            for key, value in node.items():
                resolved = self.resolve(value)
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        return node

    def _fn(self, name: str, arg: Any) -> Any:
        handler = getattr(self, f"_fn_{name.lower()}", None)
        if handler is None:
            raise TemplateError(f"unsupported intrinsic function Fn::{name}")
        return handler(arg)

    def _fn_getatt(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError(f"Fn::GetAtt needs [LogicalId, Attribute], got {arg!r}")
        return self.get_att(str(self.resolve(arg[0])), str(self.resolve(arg[1])))

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[1], dict):
                raise TemplateError(f"Fn::Sub needs a string or [string, {{vars}}], got {arg!r}")
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}
        text = self.resolve(text)
        if not isinstance(text, str):
            raise TemplateError(f"Fn::Sub needs a string, got {text!r}")

        def substitute(match: re.Match[str]) -> str:
            var = match.group(1).strip()
            if var.startswith("!"):
                return "${" + var[1:] + "}"
            if var in variables:
                value = variables[var]
            elif "." in var and not var.startswith("AWS::"):
                logical_id, attribute = var.split(".", 1)
                value = self.get_att(logical_id, attribute)
            else:
                value = self.ref(var)
            if isinstance(value, list):
                return ",".join(str(v) for v in value)
            return _to_str(value)

        return _SUB_VAR.sub(substitute, text)

    def _fn_if(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 3:
            raise TemplateError(f"Fn::If needs [condition, then, else], got {arg!r}")
        return self.resolve(arg[1] if self.condition(str(arg[0])) else arg[2])

    def _fn_equals(self, arg: Any) -> bool:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError(f"Fn::Equals needs two values, got {arg!r}")
        left, right = (self.resolve(v) for v in arg)
        return _to_str(left) == _to_str(right) if not isinstance(left, list | dict) else bool(left == right)

    def _fn_not(self, arg: Any) -> bool:
        items = arg if isinstance(arg, list) else [arg]
        return not self._condition_value(items[0])


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _to_str(value: Any) -> str:
    """CloudFormation's string conversion: booleans are lowercase, numbers plain."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def to_env_value(value: Any) -> str | None:
    """An environment variable value as Lambda would see it; ``None`` when it resolved to ``AWS::NoValue``."""
    if value is NO_VALUE or value is None:
        return None
    return _to_str(value)
