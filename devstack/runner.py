"""``LocalStack``: the whole SAM template on this machine: moto in server mode, each function in processes of its
own (see ``functions``), API Gateway, SQS pollers and schedules as threads of this process."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from devstack.functions import EventSource, Invocation, LocalFunction, access_key, host_environment
from devstack.functions import timeout_scale as resolve_timeout_scale
from devstack.gateway import Gateway, Route
from devstack.moto_server import AwsCall, MotoProcess, MotoServer, as_aws
from devstack.pollers import SqsPoller, SqsSource
from devstack.resources import CreatedResources, QueueInfo, ResourceCreator, TableInfo
from devstack.schedules import Schedule, ScheduleTimer
from devstack.template import (
    DEFAULT_STACK_NAME,
    FUNCTION_TYPE,
    LAYER_TYPE,
    REGION,
    RULE_TYPE,
    Resolver,
    Resource,
    Template,
    TemplateError,
    to_env_value,
)

log = logging.getLogger("devstack")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
# Where `python -m devstack` leaves the client environment (see LocalStack.write_client_environment).
CLIENT_ENV_FILE = REPO_ROOT / ".devstack" / "env.json"
DEFAULT_SQS_CONCURRENCY = 2
# Who signs the SQS event sources' receives and deletes (Lambda's own service on AWS), as AwsCall.function.
SQS_POLLER = "devstack:sqs-poller"
DEFAULT_API_CONCURRENCY = 4  # execution environments an API function may have at once (more requests wait)


class LocalStack:
    """Runs a SAM template locally: moto for AWS services, real handlers for every function.

    >>> with LocalStack(template="template.yaml", api_port=0) as stack:  # doctest: +SKIP
    ...     requests.post(f"{stack.api_url}/bsale/notifications/tok", json={...})
    ...     stack.drain(timeout=10)
    """

    def __init__(
        self,
        template: str | Path | Template | None = None,
        *,
        api_port: int = 0,
        api_host: str = "127.0.0.1",
        moto_port: int = 0,
        moto_endpoint: str | None = None,
        moto_process: bool = False,
        parameters: Mapping[str, Any] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        retry_visibility_seconds: int | None = None,
        schedules: bool = True,
        schedule_speed: float = 1.0,
        enforce_timeouts: bool = True,
        timeout_scale: float | None = None,
        sqs_concurrency: int = DEFAULT_SQS_CONCURRENCY,
        pollers: bool = True,
        api: bool = True,
        reset_moto: bool | None = None,
        api_concurrency: int = DEFAULT_API_CONCURRENCY,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """
        :param template: path to the SAM template (default: ``template.yaml`` at the repo root) or a Template.
        :param api_port: port of the local API Gateway (0 picks a free one).
        :param moto_port: port of the moto server this stack starts (0 picks a free one).
        :param moto_endpoint: use an already-running moto server at this URL instead of starting one.
        :param moto_process: start moto in a child process of its own rather than in this one: AWS's work then
            shares no GIL with the sandboxes, gateway and pollers of this process (benchmarks); its state is the
            child's, not this process's ``mock_aws``.
        :param parameters: template parameter overrides (the rest take their Default).
        :param retry_visibility_seconds: time compression for SQS retries: failed messages become visible again
            after this many seconds instead of the queue's VisibilityTimeout (``None``: as on AWS).
        :param schedules: run schedule timers (``fire_schedule`` works either way).
        :param schedule_speed: run schedules this many times faster (e.g. 60: ``rate(1 hour)`` fires each minute).
        :param enforce_timeouts: an invocation that outlives the function's Timeout counts as failed.
        :param timeout_scale: stretch every function's Timeout by this factor, both the limit enforced and the
            time the Lambda context reports as remaining (``None``: ``$DEVSTACK_TIMEOUT_SCALE``, else 1.0). For a
            machine slower than Lambda (a shared, loaded test box); 1.0 is Lambda's own wall clock.
        :param sqs_concurrency: pollers per SQS event source without ``ScalingConfig.MaximumConcurrency``.
        :param pollers: poll SQS event sources (off: messages stay in their queues).
        :param api: serve the HTTP routes.
        :param reset_moto: wipe moto's state before creating the resources. moto keeps its state per *process*
            (every moto server and ``mock_aws`` in this process share it), so by default a stack that starts its
            own server resets it and starts empty; with ``moto_endpoint`` the default is to keep what is there.
        :param api_concurrency: execution environments each API function may run at once (requests beyond wait).
        :param environment: variables every function's processes get on top of the template's (e.g. a
            ``DEVSTACK_PRELOAD`` module); see also :meth:`update_environment`.
        """
        if isinstance(template, Template):
            self.template = template
        else:
            self.template = Template.load(Path(template) if template is not None else DEFAULT_TEMPLATE)
        self.api_port = api_port
        self.api_host = api_host
        self.moto_port = moto_port
        self._given_endpoint = moto_endpoint
        self.moto_process = moto_process
        self.parameters = dict(parameters or {})
        self.stack_name = stack_name
        self.retry_visibility_seconds = retry_visibility_seconds
        self.run_schedules = schedules
        self.schedule_speed = schedule_speed
        self.enforce_timeouts = enforce_timeouts
        self.timeout_scale = resolve_timeout_scale(timeout_scale)
        self.sqs_concurrency = sqs_concurrency
        self.run_pollers = pollers
        self.serve_api = api
        self.reset_moto = reset_moto if reset_moto is not None else moto_endpoint is None
        self.region = REGION
        self.api_concurrency = api_concurrency
        self.extra_environment = dict(environment or {})

        self.resolver = Resolver(self.template, self.parameters, stack_name=stack_name)
        self.resources = CreatedResources()
        self.functions: dict[str, LocalFunction] = {}
        self.routes: list[Route] = []
        self.sqs_sources: list[SqsSource] = []
        self.schedules: list[Schedule] = []
        self.invocations: list[Invocation] = []
        self.listeners: list[Callable[[Invocation], None]] = []  # called after every invocation
        self.env_conflicts: dict[str, dict[str, str]] = {}  # variable -> {function: value}

        self._moto_server: MotoServer | MotoProcess | None = None
        self._endpoint: str | None = None
        self._gateway: Gateway | None = None
        self._pollers: list[SqsPoller] = []
        self._timers: list[ScheduleTimer] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._session: boto3.session.Session | None = None
        self.started = False

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> LocalStack:
        if self.started:
            return self
        self.started = True
        self._stop.clear()
        try:
            host = host_environment()  # before the stack's own variables land in os.environ
            self._start_moto()
            self._set_aws_environment()
            if self.reset_moto:
                self._reset_moto()
            self.resources = ResourceCreator(self.template, self.resolver, self._boto_clients()).create_all()
            self._build_functions()
            self._install_function_environment(host)
            self._build_event_sources()
            self._size_pools()
            if self.serve_api:
                self._gateway = Gateway(self.routes, host=self.api_host, port=self.api_port, record=self._record)
                self._gateway.start()
            if self.run_pollers:
                for source in self.sqs_sources:
                    if not source.enabled:
                        continue
                    poller = SqsPoller(
                        source, self.client("sqs", signer=SQS_POLLER), self._stop, self._record,
                        retry_visibility_seconds=self.retry_visibility_seconds, region=self.region,
                    )  # fmt: skip
                    poller.start()
                    self._pollers.append(poller)
            if self.run_schedules:
                for schedule in self.schedules:
                    if schedule.enabled:
                        timer = ScheduleTimer(schedule, self._stop, self._fire, speed=self.schedule_speed)
                        if timer.start():
                            self._timers.append(timer)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving, polling and firing; stop the moto server this stack started; restore the environment."""
        if not self.started:
            return
        self._stop.set()
        for function in self.functions.values():
            function.stop()  # running invocations fail; pollers and the gateway then wind down
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        for poller in self._pollers:
            poller.join(timeout=5)
        for timer in self._timers:
            timer.join(timeout=5)
        self._pollers.clear()
        self._timers.clear()
        if self._moto_server is not None:
            with contextlib.suppress(Exception):
                self._moto_server.stop()
            self._moto_server = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        self._clients.clear()
        self.started = False

    # -- moto and environment ------------------------------------------------------------------------------------

    def _start_moto(self) -> None:
        if self._given_endpoint:
            self._endpoint = self._given_endpoint.rstrip("/")
            return
        keys = {access_key(res.logical_id): res.logical_id for res in self.template.of_type(FUNCTION_TYPE)}
        keys[access_key(SQS_POLLER)] = SQS_POLLER
        if self.moto_process:
            self._moto_server = MotoProcess(keys, port=self.moto_port)
        else:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per moto request otherwise
            as_aws()
            self._moto_server = MotoServer(keys.get, port=self.moto_port)
        self._endpoint = self._moto_server.start()

    def _reset_moto(self) -> None:
        import urllib.request

        request = urllib.request.Request(f"{self._endpoint}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own loopback server
            response.read()

    def _set_env(self, key: str, value: str | None) -> None:
        if key not in self._saved_env:
            self._saved_env[key] = os.environ.get(key)
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

    def _set_aws_environment(self) -> None:
        """Every boto3 client created from now on (the handlers' included) talks to moto."""
        assert self._endpoint is not None
        for key, value in {
            "AWS_ENDPOINT_URL": self._endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_SAM_LOCAL": "true",  # what `sam local` sets; Powertools Tracer disables itself on it
        }.items():
            self._set_env(key, value)
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            self._set_env(key, None)
        # Shops here point at the sandboxes (http on loopback); a deployed stage allows only the real hosts.
        self._set_env("ALLOW_LOCAL_API_URLS", "true")
        self.resolver.queue_url_base = self._endpoint

    def _boto_clients(self) -> dict[str, Any]:
        return {name: self.client(name) for name in ("dynamodb", "sqs", "ssm", "secretsmanager", "s3")}

    def client(self, service: str, signer: str | None = None) -> Any:
        """A boto3 client for ``service`` bound to this stack's moto server (shared, thread-safe). ``signer``: sign
        as that function (its access key), so moto attributes the calls to it (see :meth:`aws_calls`)."""
        key = (service, signer)
        if key not in self._clients:
            if self._endpoint is None:
                raise RuntimeError("the stack is not started")
            if self._session is None:
                self._session = boto3.session.Session()
            self._clients[key] = self._session.client(  # type: ignore[call-overload]
                service,
                endpoint_url=self._endpoint,
                region_name=self.region,
                aws_access_key_id=access_key(signer) if signer else "testing",
                aws_secret_access_key="testing",
                config=Config(
                    max_pool_connections=64,
                    retries={"max_attempts": 3, "mode": "standard"},
                    read_timeout=30,
                    connect_timeout=5,
                ),
            )
        return self._clients[key]

    # -- functions -----------------------------------------------------------------------------------------------

    def _layer_dirs(self, layers: list[Any], raw: list[Any], function_id: str) -> list[Path]:
        dirs: list[Path] = []
        for resolved, original in zip(layers, raw, strict=False):
            layer_id: str | None = None
            if isinstance(original, dict) and isinstance(original.get("Ref"), str):
                layer_id = original["Ref"]
            else:
                for res in self.template.of_type(LAYER_TYPE):
                    if self.resolver.ref(res.logical_id) == resolved:
                        layer_id = res.logical_id
            layer = self.template.resources.get(layer_id or "")
            if layer is None or layer.type != LAYER_TYPE:
                log.info("%s: layer %s is not local; its packages must be installed in this venv",
                         function_id, resolved)  # fmt: skip
                continue
            content = self.resolver.resolve(layer.properties.get("ContentUri"))
            if not isinstance(content, str):
                log.warning("layer %s: ContentUri must be a local folder", layer.logical_id)
                continue
            folder = (self.template.base_dir / content).resolve()
            # A layer's Python packages live in python/ on Lambda (/opt/python); SAM's BuildMethod puts them there.
            dirs.append(folder / "python" if (folder / "python").is_dir() else folder)
        return dirs

    def _build_functions(self) -> None:
        for res in self.template.of_type(FUNCTION_TYPE):
            if not self.resolver.included(res):
                continue
            function = self._make_function(res)
            if function is not None:
                self.functions[res.logical_id] = function

    def _make_function(self, res: Resource) -> LocalFunction | None:
        props = res.properties
        runtime = str(self.resolver.resolve(props.get("Runtime", "python3")))
        if props.get("PackageType") == "Image" or not runtime.startswith("python"):
            log.warning("%s: runtime %s is not emulated (only Python zip functions are)", res.logical_id, runtime)
            return None
        if runtime != f"python{sys.version_info.major}.{sys.version_info.minor}":
            log.debug("%s declares %s; running it on Python %s", res.logical_id, runtime, sys.version.split()[0])
        code_uri = self.resolver.resolve(props.get("CodeUri", "."))
        if "InlineCode" in props or not isinstance(code_uri, str):
            log.warning("%s: only a local CodeUri folder is supported", res.logical_id)
            return None
        handler = str(self.resolver.resolve(props.get("Handler", "")))
        raw_layers = props.get("Layers") or []
        layers = self.resolver.resolve(raw_layers)
        variables = self.resolver.resolve((props.get("Environment") or {}).get("Variables") or {})
        environment = {k: v for k, v in ((str(k), to_env_value(v)) for k, v in variables.items()) if v is not None}
        events = [
            EventSource(name=str(name), type=str(spec.get("Type", "")), properties=dict(spec.get("Properties") or {}))
            for name, spec in (props.get("Events") or {}).items()
        ]
        function = LocalFunction(
            logical_id=res.logical_id,
            name=self.resolver.physical_name(res.logical_id),
            handler=handler,
            code_dir=(self.template.base_dir / code_uri).resolve(),
            layer_dirs=self._layer_dirs(layers, raw_layers, res.logical_id),
            timeout=float(self.resolver.resolve(props.get("Timeout", 3))),
            memory_mb=int(self.resolver.resolve(props.get("MemorySize", 128))),
            environment=environment,
            events=events,
            region=self.region,
            enforce_timeout=self.enforce_timeouts,
            timeout_scale=self.timeout_scale,
        )
        function.on_invoke = self._on_invoke
        function.on_record = self._record
        return function

    def _install_function_environment(self, host: dict[str, str]) -> None:
        """Give each function its processes' environment, and this process (a client of the stack: tests, tools)
        the union of the functions' variables, so code run here finds the table, the queues..."""
        stack_env = {
            **host,
            **{k: os.environ[k] for k in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "ALLOW_LOCAL_API_URLS",
                                          "AWS_SAM_LOCAL") if k in os.environ},
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            **self.extra_environment,
        }  # fmt: skip
        values: dict[str, dict[str, str]] = {}
        for function in self.functions.values():
            function.stack_environment = {**stack_env, "AWS_ACCESS_KEY_ID": access_key(function.logical_id)}
            for key, value in function.environment.items():
                values.setdefault(key, {})[function.logical_id] = value
        self.env_conflicts = {k: v for k, v in values.items() if len(set(v.values())) > 1}
        for key, by_function in values.items():
            self._set_env(key, next(iter(by_function.values())))

    def _size_pools(self) -> None:
        """At most as many environments per function as its event sources can keep busy at once, plus one for
        direct invocations and schedules."""
        for function in self.functions.values():
            sqs = sum(s.maximum_concurrency for s in self.sqs_sources if s.function is function and s.enabled)
            api = self.api_concurrency if any(r.function is function for r in self.routes) else 0
            function.max_environments = sqs + api + 1

    # -- event sources -------------------------------------------------------------------------------------------

    def _queue_by_reference(self, value: Any) -> QueueInfo | None:
        for queue in self.resources.queues.values():
            if value in (queue.arn, queue.url, queue.name):
                return queue
        return None

    def _api_stage(self, rest_api: Any) -> str:
        if isinstance(rest_api, dict) and isinstance(rest_api.get("Ref"), str):
            api = self.template.resources.get(rest_api["Ref"])
            if api is not None and "StageName" in api.properties:
                return str(self.resolver.resolve(api.properties["StageName"]))
        stage = (self.template.globals.get("Api") or {}).get("StageName")
        return str(self.resolver.resolve(stage)) if stage is not None else "Prod"

    def _build_event_sources(self) -> None:
        for function in self.functions.values():
            for event in function.events:
                props = event.properties
                if event.type == "Api":
                    path = str(self.resolver.resolve(props.get("Path", "/")))
                    method = str(self.resolver.resolve(props.get("Method", "ANY")))
                    stage = self._api_stage(props.get("RestApiId"))
                    self.routes.append(Route(method, path, function, event.name, stage))
                elif event.type == "SQS":
                    self._add_sqs_source(function, event)
                elif event.type in ("Schedule", "ScheduleV2"):
                    self._add_schedule(function, event)
                else:
                    log.warning("%s: %s events (%s) are not emulated", function.logical_id, event.type, event.name)
        for rule in self.template.of_type(RULE_TYPE):
            if self.resolver.included(rule):
                self._add_rule_schedules(rule)

    def _add_sqs_source(self, function: LocalFunction, event: EventSource) -> None:
        props = self.resolver.resolve(event.properties)
        queue = self._queue_by_reference(props.get("Queue"))
        if queue is None:
            log.warning("%s: SQS event %s refers to a queue that is not in the template (%s)",
                        function.logical_id, event.name, props.get("Queue"))  # fmt: skip
            return
        if props.get("FilterCriteria"):
            log.warning("%s: FilterCriteria on %s is not emulated; every message is delivered",
                        function.logical_id, event.name)  # fmt: skip
        scaling = props.get("ScalingConfig") or {}
        concurrency = int(scaling.get("MaximumConcurrency", self.sqs_concurrency))
        if queue.fifo:
            # Message-group order: moto's long poll can hand two messages of one group to two concurrent
            # receivers, so a FIFO source gets a single poller (Lambda would parallelise across groups only).
            concurrency = 1
        self.sqs_sources.append(
            SqsSource(
                function=function,
                event_name=event.name,
                queue=queue,
                batch_size=int(props.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                maximum_concurrency=concurrency,
                enabled=str(props.get("Enabled", True)).lower() != "false",
            )
        )
        if queue.visibility_timeout < function.timeout:
            log.warning("%s: queue %s has VisibilityTimeout %s s < function Timeout %s s (Lambda rejects this)",
                        function.logical_id, queue.name, queue.visibility_timeout, function.timeout)  # fmt: skip

    def _add_schedule(self, function: LocalFunction, event: EventSource) -> None:
        props = self.resolver.resolve(event.properties)
        v2 = event.type == "ScheduleV2"
        expression = str(props.get("ScheduleExpression" if v2 else "Schedule", ""))
        name = str(props.get("Name") or f"{self.stack_name}-{function.logical_id}{event.name}")
        arn = (
            self.resolver.arn("scheduler", f"schedule/{props.get('GroupName', 'default')}/{name}")
            if v2
            else self.resolver.arn("events", f"rule/{name}")
        )
        state = str(props.get("State", "ENABLED")).upper()
        enabled = str(props.get("Enabled", True)).lower() != "false" and state != "DISABLED"
        self.schedules.append(Schedule(function, event.name, expression, arn, props.get("Input"), enabled))

    def _add_rule_schedules(self, rule: Resource) -> None:
        expression = rule.properties.get("ScheduleExpression")
        if not expression:
            return
        for target in rule.properties.get("Targets") or []:
            arn = target.get("Arn") if isinstance(target, dict) else None
            target_id = None
            if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                att = arn["Fn::GetAtt"]
                target_id = (att.split(".", 1) if isinstance(att, str) else att)[0]
            elif isinstance(arn, dict) and "Ref" in arn:
                target_id = arn["Ref"]
            if target_id in self.functions:
                state = str(self.resolver.resolve(rule.properties.get("State", "ENABLED"))).upper()
                self.schedules.append(
                    Schedule(
                        self.functions[target_id],
                        rule.logical_id,
                        str(self.resolver.resolve(expression)),
                        self.resolver.get_att(rule.logical_id, "Arn"),
                        self.resolver.resolve(target.get("Input")),
                        state == "ENABLED",
                    )
                )

    # -- invocations ---------------------------------------------------------------------------------------------

    def _on_invoke(self, function: LocalFunction, starting: bool) -> None:
        with self._idle:
            self._in_flight += 1 if starting else -1
            if self._in_flight == 0:
                self._idle.notify_all()

    def _record(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)
        log.info("%s", format_invocation(invocation))
        for listener in list(self.listeners):
            try:
                listener(invocation)
            except Exception:
                log.exception("invocation listener failed")

    def _fire(self, schedule: Schedule) -> Invocation:
        record, _, _ = schedule.function.run(schedule.event(self.region), kind="schedule")
        record.detail = f"{schedule.event_name} ({schedule.expression})"
        self._record(record)
        return record

    # -- public API ----------------------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        if self._gateway is None:
            raise RuntimeError("the API is not being served (start the stack, with api=True)")
        return self._gateway.url

    @property
    def moto_endpoint(self) -> str:
        if self._endpoint is None:
            raise RuntimeError("the stack is not started")
        return self._endpoint

    @contextlib.contextmanager
    def aws_calls(self) -> Iterator[list[AwsCall]]:
        """Every AWS call moto answers while inside, as it arrives (with ``moto_process``: all of them once the
        block ends); ``AwsCall.function`` says whose it is (a function's logical id; ``None`` for this process's
        own clients)."""
        if self._moto_server is None:
            raise RuntimeError("AWS calls are recorded only by a stack that runs its own moto")
        listening = (self._moto_server.listening() if isinstance(self._moto_server, MotoProcess)
                     else self._moto_server.recorder.listening())
        with listening as calls:
            yield calls

    def update_environment(self, values: Mapping[str, str | None], functions: Iterable[str] | None = None) -> None:
        """Change functions' variables (all functions by default), as Lambda's UpdateFunctionConfiguration: new
        execution environments get the new values; warm ones are retired. ``None`` removes a variable."""
        for logical_id in functions if functions is not None else list(self.functions):
            self.function(logical_id).update_environment(values)

    def reset_environment(self, keys: Iterable[str], functions: Iterable[str] | None = None) -> None:
        """Undo :meth:`update_environment` for ``keys``: the template's values again."""
        for logical_id in functions if functions is not None else list(self.functions):
            self.function(logical_id).reset_environment(list(keys))

    def function(self, logical_id: str) -> LocalFunction:
        try:
            return self.functions[logical_id]
        except KeyError:
            raise KeyError(f"no function {logical_id!r}; the template has {sorted(self.functions)}") from None

    def table_name(self, logical_id: str) -> str:
        return self._table(logical_id).name

    def table_arn(self, logical_id: str) -> str:
        return self._table(logical_id).arn

    def queue_url(self, logical_id: str) -> str:
        return self._queue(logical_id).url

    def queue_arn(self, logical_id: str) -> str:
        return self._queue(logical_id).arn

    def queue_name(self, logical_id: str) -> str:
        return self._queue(logical_id).name

    def _table(self, logical_id: str) -> TableInfo:
        try:
            return self.resources.tables[logical_id]
        except KeyError:
            raise KeyError(f"no table {logical_id!r}; the stack has {sorted(self.resources.tables)}") from None

    def _queue(self, logical_id: str) -> QueueInfo:
        try:
            return self.resources.queues[logical_id]
        except KeyError:
            raise KeyError(f"no queue {logical_id!r}; the stack has {sorted(self.resources.queues)}") from None

    def resolve(self, value: Any) -> Any:
        """Resolve a template expression (e.g. ``{"Fn::Sub": "${Table}"}``) with this stack's values."""
        return self.resolver.resolve(value)

    def outputs(self) -> dict[str, Any]:
        """The template's Outputs, resolved (the API URL outputs point at the local gateway's placeholder)."""
        out: dict[str, Any] = {}
        for name, spec in self.template.outputs.items():
            try:
                out[name] = self.resolver.resolve((spec or {}).get("Value"))
            except TemplateError as exc:
                out[name] = f"<{exc}>"
        return out

    def client_environment(self) -> dict[str, str]:
        """What a client in another shell needs to act on this stack: moto's endpoint and test credentials, plus
        every ``NAME=value`` assignment the template's Outputs publish (a deployed stack's operators export the
        same output, so a tool reads one environment whether the stack is local or on AWS)."""
        env = {"AWS_ENDPOINT_URL": self.moto_endpoint, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region,
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        for value in self.outputs().values():
            if not isinstance(value, str):
                continue
            for word in value.split():
                name, sep, assigned = word.partition("=")
                if sep and name.isidentifier() and name.upper() == name:
                    env[name] = assigned
        return env

    def write_client_environment(self, path: str | Path = CLIENT_ENV_FILE) -> Path:
        """Write :meth:`client_environment` as JSON (``./dev admin --local`` reads it); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.client_environment(), indent=2))
        return target

    def fire_schedule(self, function_logical_id: str, event_name: str | None = None) -> Any:
        """Fire a function's schedule now (synchronously) and return the handler's result (errors propagate)."""
        function = self.function(function_logical_id)
        candidates = [s for s in self.schedules if s.function is function]
        if event_name is not None:
            candidates = [s for s in candidates if s.event_name == event_name]
        if not candidates:
            raise KeyError(f"{function_logical_id} has no schedule" + (f" named {event_name}" if event_name else ""))
        schedule = candidates[0]
        record, result, error = function.run(schedule.event(self.region), kind="schedule")
        record.detail = f"{schedule.event_name} (fired on demand)"
        self._record(record)
        if error is not None:
            raise error
        return result

    def source_queues(self) -> list[QueueInfo]:
        """Queues that feed enabled SQS event sources, dead-letter queues excluded."""
        dlq_arns = {q.dlq_arn for q in self.resources.queues.values() if q.dlq_arn}
        seen: dict[str, QueueInfo] = {}
        for source in self.sqs_sources:
            if source.enabled and source.queue.arn not in dlq_arns:
                seen[source.queue.logical_id] = source.queue
        return list(seen.values())

    def queue_depth(self, logical_id: str) -> int:
        """Messages in a queue: visible + in flight + delayed."""
        return self._depth(self._queue(logical_id))

    def _depth(self, queue: QueueInfo) -> int:
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=queue.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every source queue is empty and no invocation is running. ``False`` on timeout.

        Messages that failed stay invisible for their queue's VisibilityTimeout unless ``retry_visibility_seconds``
        compresses it, so without compression a failure usually makes ``drain`` time out.
        """
        deadline = time.monotonic() + timeout
        queues = self.source_queues()
        while True:
            if self._in_flight == 0 and all(self._depth(q) == 0 for q in queues) and self._in_flight == 0:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._idle:
                self._idle.wait(timeout=min(0.05, remaining))


def format_invocation(inv: Invocation) -> str:
    kind = {"api": "HTTP", "sqs": "SQS", "schedule": "SCHEDULE", "direct": "INVOKE"}.get(inv.kind, inv.kind.upper())
    outcome = "ok" if inv.ok else "FAILED"
    line = f"{kind:<8} {inv.function:<28} {outcome:<6} {inv.duration * 1000:8.1f} ms  {inv.detail}"
    if inv.error:
        line += f"  [{inv.error}]"
    return line

