"""The template as the local stack needs it: functions with their handlers, routes, queues and schedules, and a
resolver for the intrinsic functions (Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::Select, Fn::If) over local values.

Conditions are evaluated with the chosen parameters: a resource whose condition is false does not exist locally
(e.g. the RDS resources when DatabaseUrl is given, as the local stack always does), and Fn::If resolves only the
branch taken, so AWS-only resources (VPC, RDS, CloudFront, alarms) never need a local value. AWS::NoValue removes the
property or list item it stands for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.template import ROOT, load_template, parameter_overrides

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"


class TemplateError(Exception):
    """template.yaml uses something the local stack cannot emulate; the message names it."""


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    function: str  # logical id


@dataclass(frozen=True)
class SqsSource:
    function: str
    queue: str  # logical id of the AWS::SQS::Queue
    batch_size: int
    report_failures: bool


@dataclass(frozen=True)
class ScheduleSource:
    function: str
    name: str
    expression: str


@dataclass
class FunctionSpec:
    logical_id: str
    handler: str
    code_uri: Path
    layer_dirs: list[Path]
    timeout: int
    memory: int
    environment: dict[str, Any] = field(default_factory=dict)


@dataclass
class StackModel:
    """Everything local/ reads from template.yaml, with parameters already chosen."""

    template: dict[str, Any]
    parameters: dict[str, str]
    stack_name: str
    functions: dict[str, FunctionSpec]
    routes: list[HttpRoute]
    sqs_sources: list[SqsSource]
    schedules: list[ScheduleSource]
    conditions: dict[str, bool] = field(default_factory=dict)

    def resources_of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        """The resources of that type that exist with the chosen parameters (their Condition, if any, holds)."""
        return {
            k: v
            for k, v in self.template["Resources"].items()
            if v.get("Type") == type_ and self.conditions.get(v.get("Condition", ""), True)
        }


def _conditions(template: dict[str, Any], params: dict[str, str]) -> dict[str, bool]:
    """Evaluate the template's Conditions (Fn::Equals/Not/And/Or, Condition, Ref and Fn::Join of parameters)."""
    specs = template.get("Conditions", {})
    done: dict[str, bool] = {}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                if arg not in params:
                    raise TemplateError(f"condition: !Ref {arg} is not a parameter")
                return params[arg]
            if key == "Fn::Join":
                return str(arg[0]).join(str(value(v)) for v in value(arg[1]))
            return truth(node)
        if isinstance(node, list):
            return [value(v) for v in node]
        return str(node)

    def truth(node: Any) -> bool:
        ((key, arg),) = node.items()
        if key == "Condition":
            return evaluate(arg)
        if key == "Fn::Equals":
            return bool(value(arg[0]) == value(arg[1]))
        if key == "Fn::Not":
            return not truth(arg[0])
        if key == "Fn::And":
            return all(truth(a) for a in arg)
        if key == "Fn::Or":
            return any(truth(a) for a in arg)
        raise TemplateError(f"condition function {key} is not emulated locally")

    def evaluate(name: str) -> bool:
        if name not in done:
            if name not in specs:
                raise TemplateError(f"condition {name} is not defined")
            done[name] = truth(specs[name])
        return done[name]

    for name in specs:
        evaluate(name)
    return done


def _parameters(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no default and no local override")
    unknown = set(overrides) - set(values)
    if unknown:
        raise TemplateError(f"unknown parameter override(s): {', '.join(sorted(unknown))}")
    return values


def _layer_dirs(template: dict[str, Any], layers: list[Any]) -> list[Path]:
    dirs = []
    for layer in layers:
        ref = layer.get("Ref") if isinstance(layer, dict) else None
        res = template["Resources"].get(ref or "", {})
        if res.get("Type") != "AWS::Serverless::LayerVersion":
            raise TemplateError(f"layer {layer!r} is not a layer defined in the template")
        dirs.append(ROOT / res["Properties"]["ContentUri"])
    return dirs


def load_model(overrides: dict[str, str] | None = None, environment: str = "local") -> StackModel:
    """Read template.yaml with the samconfig `environment`'s parameter overrides, then `overrides` on top."""
    template = load_template()
    chosen = {**parameter_overrides(environment), **(overrides or {})}
    params = _parameters(template, chosen)
    globals_ = template.get("Globals", {}).get("Function", {})
    functions: dict[str, FunctionSpec] = {}
    routes: list[HttpRoute] = []
    sqs: list[SqsSource] = []
    schedules: list[ScheduleSource] = []
    for logical_id, res in template["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**globals_, **res.get("Properties", {})}
        env = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **res.get("Properties", {}).get("Environment", {}).get("Variables", {}),
        }
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            handler=props["Handler"],
            code_uri=ROOT / props["CodeUri"],
            layer_dirs=_layer_dirs(template, props.get("Layers", [])),
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            environment=env,
        )
        for name, event in res.get("Properties", {}).get("Events", {}).items():
            ev_props = event.get("Properties", {})
            if event["Type"] == "HttpApi":
                routes.append(HttpRoute(ev_props["Method"].upper(), ev_props["Path"], logical_id))
            elif event["Type"] == "SQS":
                queue = ev_props["Queue"]
                queue_id = queue["Fn::GetAtt"][0] if isinstance(queue, dict) and "Fn::GetAtt" in queue else None
                if not queue_id:
                    raise TemplateError(f"{logical_id}.{name}: SQS Queue must be !GetAtt <Queue>.Arn")
                report = "ReportBatchItemFailures" in ev_props.get("FunctionResponseTypes", [])
                sqs.append(SqsSource(logical_id, queue_id, int(ev_props.get("BatchSize", 10)), report))
            elif event["Type"] in ("Schedule", "ScheduleV2"):
                schedules.append(
                    ScheduleSource(
                        logical_id, name, ev_props["Schedule" if event["Type"] == "Schedule" else "ScheduleExpression"]
                    )
                )
            else:
                raise TemplateError(f"{logical_id}.{name}: event type {event['Type']} is not emulated locally")
    conditions = _conditions(template, params)
    return StackModel(
        template, params, chosen.get("StackName", "labfolio-local"), functions, routes, sqs, schedules, conditions
    )


class _NoValue:
    """What !Ref AWS::NoValue resolves to: the enclosing property or list item is dropped."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Evaluates intrinsic functions against parameters and the physical ids of locally created resources."""

    def __init__(self, model: StackModel, physical: dict[str, dict[str, str]]) -> None:
        self.model = model
        # physical[logical_id] = {"Ref": ..., "Arn": ..., ...}
        self.physical = physical

    def pseudo(self, name: str) -> str:
        values = {
            "AWS::StackName": self.model.stack_name,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }
        if name not in values:
            raise TemplateError(f"pseudo parameter {name} is not emulated")
        return values[name]

    def ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.model.parameters:
            return self.model.parameters[name]
        if name in self.physical and "Ref" in self.physical[name]:
            return self.physical[name]["Ref"]
        raise TemplateError(f"!Ref {name}: no local value (not a parameter or created resource)")

    def get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.physical[logical_id][attribute]
        except KeyError:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: no local value") from None

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return _SUB_VAR.sub(replace, text).replace("${!", "${")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Fn::If":
                name, if_true, if_false = arg
                if name not in self.model.conditions:
                    raise TemplateError(f"Fn::If: condition {name} is not defined")
                return self.resolve(if_true if self.model.conditions[name] else if_false)
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(parts[0], parts[1])
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return self._sub(text, variables)
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in self.resolve(arg[1]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key.startswith("Fn::"):
                raise TemplateError(f"intrinsic {key} is not emulated locally")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}
