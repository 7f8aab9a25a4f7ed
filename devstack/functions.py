"""A SAM function run the way Lambda runs it: a pool of execution environments, one child process each.

An *execution environment* (:class:`ExecutionEnvironment`) is a process of its own (``devstack/runtime.py``) with
the function's whole environment, its folder and layers on ``sys.path``; it imports the handler once (the cold
start) and then serves one invocation at a time. So each function has its own modules, globals, ``os.environ``,
loggers and Powertools state, exactly as on Lambda, and nothing the handler does reaches another function.

A function keeps a small pool of them (:class:`LocalFunction`), started lazily on first use and reused while warm;
it never has more than its concurrency allows, and waits for a free one beyond that. An invocation that outlives
the function's Timeout kills its environment (the next one starts fresh), as Lambda does. Changing a function's
environment (:meth:`LocalFunction.update_environment`) retires the environments started with the old values.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from devstack.template import ACCOUNT_ID, REGION

log = logging.getLogger("devstack")

RUNTIME = Path(__file__).with_name("runtime.py")
INIT_TIMEOUT_S = 10.0  # Lambda's limit on a cold start (stretched by timeout_scale, and at least 30 s here)
# What a function's process inherits from the host besides its own variables: enough to run Python, plus the
# Powertools and devstack knobs a developer sets in their shell (log level, metrics off, a preload module).
PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")
PASSTHROUGH_PREFIXES = ("POWERTOOLS_", "DEVSTACK_")


def host_environment() -> dict[str, str]:
    """The part of this process's environment every function's process inherits."""
    return {k: v for k, v in os.environ.items() if k in PASSTHROUGH or k.startswith(PASSTHROUGH_PREFIXES)}


def access_key(logical_id: str) -> str:
    """The AWS access key a function's process signs with: its own, as each Lambda function has its role's, so
    moto's side of the stack can tell whose call it is (see ``LocalStack.aws_calls``)."""
    return "DEVSTACK" + "".join(c for c in logical_id if c.isalnum())


TIMEOUT_SCALE_VARIABLE = "DEVSTACK_TIMEOUT_SCALE"


def timeout_scale(value: float | None = None) -> float:
    """The factor each function's Timeout is stretched by: ``value``, else $DEVSTACK_TIMEOUT_SCALE, else 1.0."""
    if value is None:
        raw = os.environ.get(TIMEOUT_SCALE_VARIABLE, "").strip()
        try:
            value = float(raw) if raw else 1.0
        except ValueError:
            raise ValueError(f"{TIMEOUT_SCALE_VARIABLE}={raw!r} is not a number") from None
    if not value > 0:
        raise ValueError(f"timeout_scale must be positive, not {value!r}")
    return value


class FunctionTimeout(Exception):
    """The handler ran longer than the function's Timeout (on AWS the invocation would have been killed)."""


@dataclass
class Invocation:
    """One invocation, as recorded in ``LocalStack.invocations``."""

    function: str
    kind: str  # "api", "sqs", "schedule" or "direct"
    started: float  # time.time()
    duration: float  # seconds
    ok: bool
    detail: str = ""
    succeeded: list[str] = field(default_factory=list)  # SQS message ids deleted
    failed: list[str] = field(default_factory=list)  # SQS message ids left for a retry
    error: str | None = None
    request_id: str = ""
    init_duration: float = 0.0  # seconds of cold start (a new execution environment) before the handler ran


@dataclass
class EventSource:
    """An entry of the function's ``Events`` section."""

    name: str
    type: str
    properties: dict[str, Any]




class InvocationError(Exception):
    """The handler raised (or its environment failed): the remote error's type, message and traceback."""

    def __init__(self, error_type: str, message: str, trace: str = "") -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.traceback = trace


def context_fields(function_name: str, memory_mb: int, budget_s: float, region: str = REGION) -> dict[str, Any]:
    """What the runtime builds the handler's ``context`` from (see ``runtime.LambdaContext``)."""
    return {
        "function_name": function_name,
        "invoked_function_arn": f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}",
        "memory_limit_in_mb": memory_mb,
        "aws_request_id": str(uuid.uuid4()),
        "log_group_name": f"/aws/lambda/{function_name}",
        "log_stream_name": time.strftime("%Y/%m/%d") + f"/[$LATEST]{uuid.uuid4().hex}",
        "remaining_ms": int(budget_s * 1000),
    }


class ExecutionEnvironment:
    """One child process running one function's handler; one invocation at a time."""

    def __init__(self, function: LocalFunction, generation: int) -> None:
        self.function = function
        self.generation = generation
        self.id = uuid.uuid4().hex[:8]
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._ended: dict[str, threading.Event] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self._requests: IO[str] | None = None
        self.killed = False

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None and not self.killed

    def start(self, environment: dict[str, str], init_timeout: float) -> None:
        """Start the process and wait for its cold start: raises :class:`InvocationError` if the import fails."""
        to_child, requests_w = os.pipe()
        replies_r, from_child = os.pipe()
        env = {**environment, "DEVSTACK_RUNTIME_FDS": f"{to_child},{from_child}"}
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own runtime, with this interpreter
                [sys.executable, str(RUNTIME)], env=env, cwd=str(self.function.code_dir), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(to_child, from_child),
            )  # fmt: skip
        finally:
            os.close(to_child)
            os.close(from_child)
        self._requests = os.fdopen(requests_w, "w")
        name = f"devstack-env-{self.function.logical_id}-{self.id}"
        assert self.process.stdout is not None and self.process.stderr is not None
        for target, args in ((self._read_replies, (os.fdopen(replies_r, "r"),)),
                             (self._read_logs, (self.process.stdout, "stdout")),
                             (self._read_logs, (self.process.stderr, "stderr"))):  # fmt: skip
            threading.Thread(target=target, args=args, name=name, daemon=True).start()
        try:
            ready = self._replies.get(timeout=init_timeout)
        except queue.Empty:
            self.kill()
            message = f"{self.function.logical_id}: the cold start took over {init_timeout:.0f} s"
            raise FunctionTimeout(message) from None
        if ready is None or not ready.get("ready"):
            self.kill()
            error = (ready or {}).get("error") or {"type": "Runtime.ExitError", "message": "the runtime exited"}
            raise InvocationError(error["type"], error["message"], error.get("traceback", ""))

    def _read_replies(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                self._replies.put(json.loads(line))
        self._replies.put(None)  # the process is gone

    def _read_logs(self, stream: IO[bytes], name: str) -> None:
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace")
                if line.startswith("START RequestId: "):
                    continue
                if line.startswith("END RequestId: "):
                    event = self._ended.get(line.split()[2])
                    if event is not None:
                        event.set()
                    continue
                self.function.log_line(name, line)

    def invoke(self, event: Any, context: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        """Send one invocation; its reply (``{"result": ...}`` or ``{"error": {...}}``) once its logs are in."""
        assert self._requests is not None
        request_id = context["aws_request_id"]
        ended = self._ended[request_id] = threading.Event()
        try:
            self._requests.write(json.dumps({"event": event, "context": context}) + "\n")
            self._requests.flush()
        except (BrokenPipeError, OSError, TypeError, ValueError) as exc:
            self.kill()
            raise InvocationError("Runtime.ExitError", f"could not send the invocation: {exc}") from None
        try:
            try:
                reply = self._replies.get(timeout=timeout)
            except queue.Empty:
                self.kill()  # as Lambda does: the environment goes, the next invocation gets a fresh one
                raise FunctionTimeout(self.function.timeout_message(timeout or 0.0)) from None
            if reply is None:
                code = self.process.wait() if self.process else None
                self.killed = True
                raise InvocationError("Runtime.ExitError", f"the process exited (status {code}) during the invocation")
            ended.wait(5)  # the END line comes after the invocation's flushed logs, and before its reply
            return reply
        finally:
            self._ended.pop(request_id, None)

    def kill(self) -> None:
        self.killed = True
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self._requests is not None:
            with contextlib.suppress(OSError):
                self._requests.close()


class LocalFunction:
    """An ``AWS::Serverless::Function``: its configuration and a pool of execution environments."""

    def __init__(
        self,
        logical_id: str,
        name: str,
        handler: str,
        code_dir: Path,
        layer_dirs: list[Path],
        timeout: float,
        memory_mb: int,
        environment: dict[str, str],
        events: list[EventSource],
        region: str = REGION,
        enforce_timeout: bool = True,
        timeout_scale: float = 1.0,
        max_environments: int = 4,
    ) -> None:
        self.logical_id = logical_id
        self.name = name
        self.handler = handler
        self.code_dir = code_dir
        self.layer_dirs = layer_dirs
        self.timeout = timeout  # as the template declares it
        # A slow (shared, loaded) machine gets more wall-clock time: the enforced limit and the context's
        # remaining time both count from `budget`, so code that plans by remaining time sees what is enforced.
        self.timeout_scale = timeout_scale
        self.memory_mb = memory_mb
        self.environment = environment  # the template's Environment.Variables, resolved
        self.events = events
        self.region = region
        self.enforce_timeout = enforce_timeout
        self.max_environments = max_environments
        self.runtime_environment: dict[str, str] = {
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(timeout)),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_REGION": region,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(code_dir),
            "DEVSTACK_LAYERS": os.pathsep.join(str(d) for d in layer_dirs),
            "PYTHONUNBUFFERED": "1",  # log lines as they are written
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.stack_environment: dict[str, str] = {}  # set by the stack: the host's part, AWS endpoint, credentials
        self.overrides: dict[str, str | None] = {}  # update_environment(): None removes a variable
        self.generation = 0  # bumped by update_environment(): older environments are retired
        self.import_error: str | None = None
        self.logs: collections.deque[tuple[str, str]] = collections.deque(maxlen=20_000)  # (stream, line)
        self.log_listeners: list[Callable[[LocalFunction, str, str], None]] = []
        self.forward_logs = True  # echo the function's stdout/stderr on this process's
        self.on_invoke: Callable[[LocalFunction, bool], None] | None = None  # in-flight accounting (runner)
        self.on_record: Callable[[Invocation], None] | None = None
        self.cold_starts = 0
        self._idle: list[ExecutionEnvironment] = []
        self._all: set[ExecutionEnvironment] = set()
        self._starting = 0
        self._pool = threading.Condition()
        self._stopped = False
        if not self.module_file.is_file():
            self.import_error = f"handler module {self.module_file} does not exist"

    @property
    def budget(self) -> float:
        """Seconds an invocation may run here: the declared Timeout times ``timeout_scale``."""
        return self.timeout * self.timeout_scale

    def __repr__(self) -> str:
        return f"LocalFunction({self.logical_id}, {self.handler} in {self.code_dir})"

    @property
    def module_file(self) -> Path:
        module_path, _, _ = self.handler.rpartition(".")
        if not module_path:
            raise ValueError(f"{self.logical_id}: Handler {self.handler!r} is not 'module.function'")
        return self.code_dir.joinpath(*module_path.replace("/", ".").split(".")).with_suffix(".py")

    def timeout_message(self, budget: float) -> str:
        scaled = ""
        if self.timeout_scale != 1:
            scaled = f" (Timeout {self.timeout:g} s x timeout_scale {self.timeout_scale:g})"
        return (f"{self.logical_id}: Task timed out after {budget:.2f} seconds{scaled}; "
                "its execution environment was stopped, as on AWS")  # fmt: skip

    # -- environment ---------------------------------------------------------------------------------------------

    def effective_environment(self) -> dict[str, str]:
        """What ``os.environ`` is in this function's processes."""
        env = {**self.stack_environment, **self.environment, **self.runtime_environment}
        for key, value in self.overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def update_environment(self, values: Mapping[str, str | None]) -> bool:
        """Change variables like Lambda's UpdateFunctionConfiguration: environments started from now on see the
        new values, running ones finish their invocation and are retired. ``None`` removes a variable (back to
        the template's value when it has one: ``None`` over a template variable removes it). Returns whether
        anything changed (an unchanged configuration keeps its warm environments)."""
        before = self.effective_environment()
        self.overrides.update(values)
        if self.effective_environment() == before:
            return False
        self.retire()
        return True

    def reset_environment(self, keys: Mapping[str, Any] | list[str]) -> bool:
        """Forget overrides of ``keys`` (back to the template's values)."""
        before = self.effective_environment()
        for key in keys:
            self.overrides.pop(key, None)
        if self.effective_environment() == before:
            return False
        self.retire()
        return True

    def retire(self) -> None:
        """Retire every environment (idle ones now, busy ones when their invocation ends): the next invocation is
        a cold start. Lambda does this on any configuration change."""
        with self._pool:
            self.generation += 1
            retired, self._idle = self._idle, []
        for env in retired:
            self._discard(env)

    # -- logs ----------------------------------------------------------------------------------------------------

    def log_line(self, stream: str, line: str) -> None:
        self.logs.append((stream, line))
        for listener in list(self.log_listeners):
            try:
                listener(self, stream, line)
            except Exception:
                log.exception("log listener failed")
        if self.forward_logs:
            target = sys.stdout if stream == "stdout" else sys.stderr
            try:
                target.write(line)
                target.flush()
            except (ValueError, OSError):  # a closed capture (pytest between tests)
                pass

    # -- pool ----------------------------------------------------------------------------------------------------

    @property
    def environments(self) -> int:
        """Execution environments alive (idle or busy)."""
        with self._pool:
            return len(self._all)

    def _acquire(self) -> tuple[ExecutionEnvironment, float]:
        """A warm environment, or a new one (cold start); ``(environment, seconds spent starting it)``."""
        with self._pool:
            while True:
                if self._stopped:
                    raise RuntimeError(f"{self.logical_id}: the stack is stopped")
                if self._idle:
                    return self._idle.pop(), 0.0
                if len(self._all) + self._starting < self.max_environments:
                    self._starting += 1
                    generation = self.generation
                    break
                self._pool.wait()
        env = ExecutionEnvironment(self, generation)
        started = time.perf_counter()
        try:
            env.start(self.effective_environment(), max(30.0, INIT_TIMEOUT_S * self.timeout_scale))
        except BaseException as exc:
            if isinstance(exc, InvocationError):
                self.import_error = str(exc)
            with self._pool:
                self._starting -= 1
                self._pool.notify()
            raise
        with self._pool:
            self._starting -= 1
            self._all.add(env)
            self.cold_starts += 1
        self.import_error = None
        return env, time.perf_counter() - started

    def _release(self, env: ExecutionEnvironment) -> None:
        with self._pool:
            if env.alive and env.generation == self.generation and not self._stopped:
                self._idle.append(env)
                self._pool.notify()
                return
        self._discard(env)

    def _discard(self, env: ExecutionEnvironment) -> None:
        env.kill()
        with self._pool:
            self._all.discard(env)
            self._pool.notify()

    def stop(self) -> None:
        """Kill every environment (running invocations fail)."""
        with self._pool:
            self._stopped = True
            everything, self._idle = list(self._all), []
            self._pool.notify_all()
        for env in everything:
            self._discard(env)

    def restart(self) -> None:
        """Allow new environments again after :meth:`stop`."""
        with self._pool:
            self._stopped = False

    # -- invoking ------------------------------------------------------------------------------------------------

    def invoke(self, event: Any) -> Any:
        """Call the handler with ``event`` like Lambda's Invoke: its result, or :class:`InvocationError`."""
        record, result, error = self.run(event, kind="direct")
        record.detail = "ok" if error is None else record.error or "failed"
        if self.on_record:
            self.on_record(record)
        if error is not None:
            raise error
        return result

    def run(self, event: Any, kind: str = "direct") -> tuple[Invocation, Any, BaseException | None]:
        """Invoke without raising: ``(record, result, exception)``. The caller fills ``record.detail``."""
        context = context_fields(self.name, self.memory_mb, self.budget, self.region)
        record = Invocation(
            function=self.logical_id, kind=kind, started=time.time(), duration=0.0, ok=False,
            request_id=context["aws_request_id"],
        )  # fmt: skip
        if self.on_invoke:
            self.on_invoke(self, True)
        started = time.perf_counter()
        env: ExecutionEnvironment | None = None
        try:
            env, record.init_duration = self._acquire()
            started = time.perf_counter()  # a cold start is not part of the handler's duration
            context["remaining_ms"] = int(self.budget * 1000)
            reply = env.invoke(event, context, self.budget if self.enforce_timeout else None)
            record.duration = time.perf_counter() - started
            if "error" in reply:
                error = reply["error"]
                raise InvocationError(error["type"], error["message"], error.get("traceback", ""))
            record.ok = True
            return record, reply.get("result"), None
        except Exception as exc:
            record.duration = record.duration or time.perf_counter() - started
            record.error = str(exc) if isinstance(exc, InvocationError) else f"{type(exc).__name__}: {exc}"
            log.error("%s: %s", self.logical_id, record.error)  # the traceback is in the function's log
            return record, None, exc
        finally:
            if env is not None:
                self._release(env)
            if self.on_invoke:
                self.on_invoke(self, False)
