"""One Lambda execution environment: a child process that imports a handler once and serves invocations.

Run by :mod:`devstack.functions` as a script (``python devstack/runtime.py``), never imported by the stack: it uses
the standard library only, so nothing of devstack (or of the parent process) is in the function's process, as on
Lambda where the runtime's bootstrap is not the function's code. The parent gives it:

- the function's whole environment (the template's variables, Lambda's own, the stack's AWS endpoint/credentials);
  ``_HANDLER`` and ``LAMBDA_TASK_ROOT`` say what to import, ``DEVSTACK_LAYERS`` (os.pathsep) where layers are;
- ``DEVSTACK_RUNTIME_FDS="<requests>,<replies>"``: two pipes, one JSON document per line, like Lambda's Runtime
  API (next invocation / response / error). The function's stdout and stderr are its logs.
- ``DEVSTACK_PRELOAD`` (optional): a Python file (or an importable module) run before the handler is imported, the
  way ``AWS_LAMBDA_EXEC_WRAPPER`` or an extension wraps a runtime (the e2e tests use it to inject faults; nothing in
  the product knows about it).

Each invocation is framed in the logs by ``START RequestId: ...`` and ``END RequestId: ...`` lines, as in
CloudWatch; the parent reads up to ``END`` before it hands the result back, so the logs of an invocation are all
there when its caller continues.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """What the Python Lambda runtime passes as ``context``."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name = fields["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = fields["invoked_function_arn"]
        self.memory_limit_in_mb = fields["memory_limit_in_mb"]
        self.aws_request_id = fields["aws_request_id"]
        self.log_group_name = fields["log_group_name"]
        self.log_stream_name = fields["log_stream_name"]
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + fields["remaining_ms"] / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name}, request {self.aws_request_id})"


def _error(exc: BaseException, kind: str | None = None) -> dict[str, Any]:
    return {"type": kind or type(exc).__name__, "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)).rstrip()}  # fmt: skip


def _root_logging() -> None:
    """What Lambda's Python runtime does before the import: a root handler writing to the log (stdout), at
    ``AWS_LAMBDA_LOG_LEVEL`` when set (the function's log level control)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(name)s\t%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


def _load() -> Any:
    module_path, _, name = os.environ["_HANDLER"].rpartition(".")
    preload = os.environ.get("DEVSTACK_PRELOAD")
    if preload and preload.endswith(".py"):
        spec = importlib.util.spec_from_file_location("devstack_preload", preload)
        assert spec is not None and spec.loader is not None, preload
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    elif preload:
        importlib.import_module(preload)
    module = importlib.import_module(module_path.replace("/", "."))
    handler = getattr(module, name, None)
    if not callable(handler):
        raise AttributeError(f"module {module_path!r} has no callable {name!r}")
    return handler


def main() -> None:
    requests_fd, replies_fd = (int(fd) for fd in os.environ.pop("DEVSTACK_RUNTIME_FDS").split(","))
    requests, replies = os.fdopen(requests_fd, "r"), os.fdopen(replies_fd, "w")
    # sys.path as on Lambda: the function's folder, then its layers; not this script's folder.
    layers = [d for d in os.environ.pop("DEVSTACK_LAYERS", "").split(os.pathsep) if d]
    sys.path[0:1] = [os.environ["LAMBDA_TASK_ROOT"], *layers]

    def reply(message: dict[str, Any]) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    _root_logging()
    try:
        handler = _load()
    except BaseException as exc:  # Lambda reports Runtime.ImportModuleError (or the handler's init error)
        kind = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else None
        traceback.print_exc()
        reply({"ready": False, "error": _error(exc, kind)})
        return
    reply({"ready": True})
    for line in requests:
        request = json.loads(line)
        context = LambdaContext(request["context"])
        print(f"START RequestId: {context.aws_request_id} Version: $LATEST", flush=True)
        exit_after = False
        try:
            answer: dict[str, Any] = {"result": handler(request["event"], context)}
            try:
                text = json.dumps(answer)
            except (TypeError, ValueError) as exc:
                text = json.dumps({"error": _error(exc, "Runtime.MarshalError")})
        except BaseException as exc:  # SystemExit too: Lambda reports it and starts a new environment
            traceback.print_exc()
            text = json.dumps({"error": _error(exc)})
            exit_after = not isinstance(exc, Exception)
        print(f"END RequestId: {context.aws_request_id}", flush=True)
        sys.stderr.flush()
        replies.write(text + "\n")
        replies.flush()
        if exit_after:
            return


if __name__ == "__main__":
    main()
