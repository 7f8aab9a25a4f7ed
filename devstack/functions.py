"""Loading a SAM function's handler from its folder and invoking it the way Lambda would.

All functions share one Python process. To keep them apart:
- each handler module is loaded from its file under a unique module name, with its folder first on ``sys.path``
  during the import; modules imported from the function's own folder (``app.py``'s helpers) are then taken out of
  ``sys.modules``, so another folder's ``helpers.py`` is not confused with this one. Layer modules are shared.
- every function's environment is in ``os.environ``; where functions disagree on a variable (and for Lambda's own
  per-function variables such as ``AWS_LAMBDA_FUNCTION_NAME``), a per-thread overlay gives each function its own
  value during its import and during each invocation, without serialising invocations.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import itertools
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from devstack.template import ACCOUNT_ID, REGION

log = logging.getLogger("devstack")

# ---------------------------------------------------------------------------------------------------------------
# Per-thread environment overlay
# ---------------------------------------------------------------------------------------------------------------

_overlay: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("devstack_env", default=None)


class OverlayEnviron(os._Environ):  # type: ignore[type-arg]
    """``os.environ`` whose reads see the current invocation's function-specific values first.

    Writes go to the real environment as usual. Threads started by a handler see the process-wide values.
    """

    def __init__(self, base: Any) -> None:
        super().__init__(base._data, base.encodekey, base.decodekey, base.encodevalue, base.decodevalue)
        self.base = base

    def __getitem__(self, key: str) -> str:
        overlay = _overlay.get()
        if overlay is not None and key in overlay:
            return overlay[key]
        return super().__getitem__(key)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        overlay = _overlay.get()
        yield from super().__iter__()
        if overlay:
            base = self.base._data
            yield from (key for key in overlay if self.encodekey(key) not in base)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        overlay = _overlay.get()
        return (overlay is not None and key in overlay) or super().__contains__(key)

    def copy(self) -> dict[str, str]:
        return dict(self)


_environ_lock = threading.Lock()
_environ_users = 0


def install_overlay() -> None:
    """Replace ``os.environ`` by an :class:`OverlayEnviron` (reference counted; see :func:`uninstall_overlay`)."""
    global _environ_users
    with _environ_lock:
        if _environ_users == 0 and not isinstance(os.environ, OverlayEnviron):
            os.environ = OverlayEnviron(os.environ)  # noqa: B003 - same data, new reads
        _environ_users += 1


def uninstall_overlay() -> None:
    global _environ_users
    with _environ_lock:
        _environ_users = max(0, _environ_users - 1)
        if _environ_users == 0 and isinstance(os.environ, OverlayEnviron):
            os.environ = os.environ.base  # noqa: B003


@contextlib.contextmanager
def env_overlay(values: Mapping[str, str]) -> Iterator[None]:
    token = _overlay.set(values)
    try:
        yield
    finally:
        _overlay.reset(token)


# ---------------------------------------------------------------------------------------------------------------
# Lambda context
# ---------------------------------------------------------------------------------------------------------------


class LambdaContext:
    """What the Python Lambda runtime passes as ``context``."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: float, region: str = REGION) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d") + f"/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name}, request {self.aws_request_id})"


# ---------------------------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------------------------

_import_lock = threading.RLock()
_instances = itertools.count(1)  # keeps module names unique when several stacks load the same template


def _installed(path: Path) -> bool:
    """Whether ``path`` belongs to an installed distribution (never dropped from ``sys.modules``)."""
    return "site-packages" in path.parts or "dist-packages" in path.parts or path.is_relative_to(sys.prefix)


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


@dataclass
class EventSource:
    """An entry of the function's ``Events`` section."""

    name: str
    type: str
    properties: dict[str, Any]


class LocalFunction:
    """An ``AWS::Serverless::Function`` that runs in this process."""

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
        self.runtime_environment: dict[str, str] = {
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(timeout)),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_REGION": region,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(code_dir),
        }
        self.overlay: dict[str, str] = {}  # set by the runner: runtime variables + this function's conflicting ones
        self.instance = next(_instances)
        self.import_error: str | None = None
        self.layer_modules: set[str] = set()  # modules this function's import loaded from its layers
        self.module: ModuleType | None = None
        self._callable: Callable[[Any, Any], Any] | None = None
        self._load_lock = threading.Lock()
        self.on_invoke: Callable[[LocalFunction, bool], None] | None = None  # in-flight accounting (runner)
        self.on_record: Callable[[Invocation], None] | None = None

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

    @property
    def module_name(self) -> str:
        stem = self.handler.rpartition(".")[0].replace("/", "_").replace(".", "_")
        return f"_devstack_fn{self.instance}_{self.logical_id}_{stem}"

    def load(self) -> Callable[[Any, Any], Any]:
        """Import the handler module (once) and return the handler callable."""
        if self._callable is not None:
            return self._callable
        with self._load_lock:
            if self._callable is None:
                self._callable = self._import()
        return self._callable

    def _import(self) -> Callable[[Any, Any], Any]:
        path = self.module_file
        if not path.is_file():
            raise FileNotFoundError(f"{self.logical_id}: handler module {path} does not exist")
        func_name = self.handler.rpartition(".")[2]
        code_dir = str(self.code_dir)
        with _import_lock, env_overlay(self.overlay):
            for layer in reversed(self.layer_dirs):
                if str(layer) not in sys.path:
                    sys.path.insert(0, str(layer))
            before = set(sys.modules)
            sys.path.insert(0, code_dir)
            try:
                spec = importlib.util.spec_from_file_location(self.module_name, path)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load {path}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[self.module_name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(self.module_name, None)
                    raise
            finally:
                with contextlib.suppress(ValueError):
                    sys.path.remove(code_dir)
                self._forget_own_modules(before)
        self.module = module
        handler = getattr(module, func_name, None)
        if not callable(handler):
            raise AttributeError(f"{self.logical_id}: {path} has no callable {func_name!r}")
        return handler  # type: ignore[no-any-return]

    def _forget_own_modules(self, before: set[str]) -> None:
        """Drop modules that came from this function's folder, so other folders get their own same-named ones.

        Modules from layers stay (functions share them), but are remembered so the runner can forget them on
        stop and a later stack in the same process starts from fresh module state (fresh cached clients).
        """
        root = self.code_dir.resolve()
        layers = [d.resolve() for d in self.layer_dirs]
        for name in set(sys.modules) - before:
            if name == self.module_name:
                continue
            file = getattr(sys.modules.get(name), "__file__", None)
            if not file:
                continue
            path = Path(file).resolve()
            if any(path.is_relative_to(layer) for layer in layers):
                self.layer_modules.add(name)
            elif path.is_relative_to(root) and not _installed(path):
                del sys.modules[name]

    def invoke(self, event: Any, context: LambdaContext | None = None) -> Any:
        """Call the handler with ``event`` like Lambda would and return its result (its exception propagates)."""
        record, result, error = self.run(event, kind="direct", context=context)
        record.detail = "ok" if error is None else record.error or "failed"
        if self.on_record:
            self.on_record(record)
        if error is not None:
            raise error
        return result

    def run(
        self, event: Any, kind: str = "direct", context: LambdaContext | None = None
    ) -> tuple[Invocation, Any, BaseException | None]:
        """Invoke without raising: ``(record, result, exception)``. The caller fills ``record.detail``."""
        ctx = context or LambdaContext(self.name, self.memory_mb, self.budget, self.region)
        record = Invocation(
            function=self.logical_id, kind=kind, started=time.time(), duration=0.0, ok=False,
            request_id=ctx.aws_request_id,
        )  # fmt: skip
        if self.on_invoke:
            self.on_invoke(self, True)
        started = time.perf_counter()
        try:
            handler = self.load()
            started = time.perf_counter()  # an import is a cold start, not part of the handler's duration
            with env_overlay(self.overlay):
                result = handler(event, ctx)
            record.duration = time.perf_counter() - started
            if self.enforce_timeout and record.duration > self.budget:
                scaled = (
                    f" (Timeout {self.timeout:g} s x timeout_scale {self.timeout_scale:g})"
                    if self.timeout_scale != 1.0
                    else ""
                )
                raise FunctionTimeout(
                    f"{self.logical_id}: Task timed out after {self.budget:.2f} seconds{scaled} "
                    f"(it ran {record.duration:.2f} s; on AWS this invocation fails)"
                )
            record.ok = True
            return record, result, None
        except (Exception, SystemExit) as exc:
            record.duration = record.duration or time.perf_counter() - started
            record.error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, FunctionTimeout):
                log.error("%s", exc)
            else:
                log.error("%s raised:\n%s", self.logical_id, traceback.format_exc().rstrip())
            return record, None, exc
        finally:
            if self.on_invoke:
                self.on_invoke(self, False)
