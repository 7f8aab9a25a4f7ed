"""moto in server mode, with every request it answers attributable to the function that made it.

Each function's processes sign with an access key of their own (``functions.access_key``), as each Lambda
function signs with its role's credentials; the server reads the key, the service and the operation off each
request, so a test or a benchmark can see what AWS calls a function made (``LocalStack.aws_calls``) without
reaching into the function's process.

The server runs in the stack's own process (``MotoServer``), or alone in a child process (``MotoProcess``), as
AWS is another host in production: there moto's work does not share a GIL with the sandboxes and the stack's
gateway and pollers (a benchmark's burst). The child's recorder is reached over HTTP (``/_devstack/calls``).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/")
CONTROL = "/_devstack/calls"  # a child's recorder: POST starts a listener (its id back), DELETE /<id> ends it


@dataclass
class AwsCall:
    """One request moto answered: who made it (a function's logical id, or ``None``), service, operation, params."""

    function: str | None
    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)


class CallRecorder:
    """A WSGI middleware: while someone listens, parse each request into an :class:`AwsCall`."""

    def __init__(self, app: Any, whose: Callable[[str], str | None], control: bool = False) -> None:
        self.app = app
        self.whose = whose
        self.control = control  # answer CONTROL requests (a child process's recorder)
        self._listeners: list[list[AwsCall]] = []
        self._lock = threading.Lock()
        self._remote: dict[str, Any] = {}  # CONTROL listeners: id -> the listening() context entered for it
        self._ids = itertools.count(1)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.control and environ.get("PATH_INFO", "").startswith(CONTROL):
            return self._controlled(environ, start_response)
        if self._listeners:
            call = self._parse(environ)
            if call is not None:
                with self._lock:
                    for calls in self._listeners:
                        calls.append(call)
        return self.app(environ, start_response)  # type: ignore[no-any-return]

    @contextmanager
    def listening(self) -> Iterator[list[AwsCall]]:
        calls: list[AwsCall] = []
        with self._lock:
            self._listeners.append(calls)
        try:
            yield calls
        finally:
            with self._lock:
                self._listeners.remove(calls)

    def _controlled(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body: Any
        if environ.get("REQUEST_METHOD") == "POST":
            ident = str(next(self._ids))
            context = self.listening()
            self._remote[ident] = (context, context.__enter__())
            body = {"id": ident}
        else:
            context, calls = self._remote.pop(environ["PATH_INFO"].rpartition("/")[2])
            context.__exit__(None, None, None)
            body = [asdict(call) for call in calls]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def _parse(self, environ: dict[str, Any]) -> AwsCall | None:
        found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if found is None:
            return None
        key, service = found.groups()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        params: dict[str, Any] = {}
        if target:
            operation = target.rpartition(".")[2]
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                params = {}
        else:
            form = parse_qs(body.decode("utf-8", "replace") or environ.get("QUERY_STRING", ""))
            params = {k: v[0] for k, v in form.items()}
            operation = params.pop("Action", None) or f"{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO')}"
        return AwsCall(self.whose(key), service, operation, params)


class MotoServer:
    """moto's ``ThreadedMotoServer``, serving its app through a :class:`CallRecorder`."""

    def __init__(self, whose: Callable[[str], str | None], host: str = "127.0.0.1", port: int = 0,
                 control: bool = False) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.recorder = CallRecorder(DomainDispatcherApplication(create_backend_app), whose, control)
        self.host, self.port = host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        self._server = make_server(self.host, self.port, self.recorder, threaded=True,
                                   request_handler=MotoRequestHandler)  # fmt: skip
        self._thread = threading.Thread(target=self._server.serve_forever, name="devstack-moto", daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


_atomic_lock = threading.RLock()


def atomic_dynamodb_writes() -> None:
    """Make moto apply each DynamoDB write atomically, and read each item whole, as DynamoDB does.

    moto checks a condition and then writes, and its server threads can interleave in between: two conditional
    claims could both win. One process-wide lock around its write operations restores DynamoDB's guarantee, so
    what the local stack shows about concurrency is about our conditions, not moto's races. Reads take the lock
    too: moto copies an item outside the backend, and fails ("dictionary changed size during iteration"), or
    answers half an update, if another thread writes it meanwhile. A Query holds it only while it gathers its
    candidates (``Table.all_items``), not while it goes through, copies and answers its page: an update replaces
    the item it changes with a changed copy, so an item a Query gathered stays as it was. On DynamoDB a read never
    holds up a write; under a whole page (tens of milliseconds for a reconcile's 500 links), every live call's
    quota write waited. Idempotent, and for the life of the process: unit tests and benches that run moto in
    process call it too.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    writes = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
    reads = ("get_item", "scan", "batch_get_item", "transact_get_items")
    for owner, method in [*((DynamoDBBackend, m) for m in writes), *((DynamoHandler, m) for m in writes + reads),
                          (Table, "all_items")]:
        original = getattr(owner, method, None)
        if original is None or getattr(original, "_devstack_atomic", False):
            continue
        if (owner, method) == (DynamoDBBackend, "update_item"):
            original = _copy_on_update(original)
        if (owner, method) == (DynamoDBBackend, "transact_write_items"):
            original = _roll_back_in_place(original)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _atomic_lock:
                return __original(self, *args, **kwargs)

        locked._devstack_atomic = True  # type: ignore[attr-defined]
        setattr(owner, method, locked)


def _copy_on_update(update_item: Any) -> Any:
    """moto's update_item, changing a copy of the item it finds (put in the item's place first), not the item a
    Query may be going through outside the lock."""
    import copy

    def update(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            table = self.get_table(table_name)
            hash_key, range_key = self.get_keys_value(table, key)
            item = table.get_item(hash_key, range_key)
        except Exception:  # noqa: BLE001 - a bad key or table: moto's own update_item answers it
            item = None
        if item is not None:
            if range_key is not None:
                table.items[hash_key][range_key] = copy.deepcopy(item)
            else:
                table.items[hash_key] = copy.deepcopy(item)
        return update_item(self, table_name, key, *args, **kwargs)

    return update


def _roll_back_in_place(transact_write_items: Any) -> Any:
    """moto's transact_write_items, whose rollback restores each table it touched in the same Table object.

    moto rolls a failed transaction back by putting a copy of the table, taken before, in its place: a Query that
    looked its table up before that (outside the lock) would then gather from the abandoned one, with the failed
    transaction's writes in it and none made since."""

    def transact(self: Any, *args: Any, **kwargs: Any) -> Any:
        tables = dict(self.tables)
        try:
            return transact_write_items(self, *args, **kwargs)
        finally:
            for name, table in tables.items():
                restored = self.tables.get(name)
                if restored is not None and restored is not table:
                    table.__dict__.update(restored.__dict__)
                    self.tables[name] = table

    return transact


_query_partition = threading.local()  # what a Query on the table's own key asked for, in this thread


def partition_dynamodb_query() -> None:
    """Make a moto Query on a table's own key read that partition, as DynamoDB does, not the whole table.

    moto gathers a Query's candidates from every item of the table, sorted, and keeps those of the partition: a
    page of a 10,000-link shop cost a sort of the whole table, under the lock that keeps writes atomic, and the
    quota writes of every other call waited behind it. The query's own filtering still runs on what it gets, so
    its answers are moto's. Queries on an index still go through the table (an index has no partitions in moto).
    Idempotent, and for the life of the process.
    """
    import bisect
    import inspect
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_devstack", False):
        return
    atomic_dynamodb_writes()  # what lets a page's items go uncopied: no write changes an item it gathered
    original_query, original_all_items = Table.query, Table.all_items
    signature = inspect.signature(original_query)

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        asked = signature.bind(self, *args, **kwargs).arguments
        if asked.get("index_name") or asked.get("hash_key") is None:
            return original_query(self, *args, **kwargs)
        start = (asked.get("exclusive_start_key") or {}).get(self.range_key_attr) if self.range_key_attr else None
        # The page's own items are enough unless a legacy filter (KeyConditions' kind) decides which count
        window = None if asked.get("filter_kwargs") else (asked.get("limit"), asked.get("range_comparison"),
                                                          asked.get("range_objs"))
        _query_partition.asked = (asked["hash_key"], DynamoType(start) if start else None,
                                  asked.get("scan_index_forward", True) is not False, window)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _query_partition.asked = None

    def all_items(self: Table) -> list[Any]:
        asked = getattr(_query_partition, "asked", None)
        # Gathering takes the lock, as atomic_dynamodb_writes' own Table.all_items (which this one replaces); the
        # items gathered do not change (an update changes a copy), so sorting them needs no lock
        if asked is None:
            with _atomic_lock:
                return original_all_items(self)
        key, start, forward, window = asked
        with _atomic_lock:
            partition = self.items.get(key)
            if partition is None:
                return []
            if not self.range_key_attr:
                return [partition]
            items = list(partition.values())
        kinds = {item.range_key.type for item in items} | ({start.type} if start is not None else set())
        if len(kinds) > 1 or not kinds <= {"S", "N"}:
            return sorted(items, key=lambda item: item.range_key)  # moto's own order, its own (slow) comparisons
        # The same order with plain values (a string's code points are its UTF-8 bytes' order), and only what
        # follows the page asked for: moto would compare every earlier item with the start key, one by one.
        def order(value: Any) -> Any:
            return Decimal(value.value) if value.type == "N" else value.value

        items.sort(key=lambda item: order(item.range_key))
        if start is not None:
            keys = [order(item.range_key) for item in items]
            items = items[bisect.bisect_right(keys, order(start)):] if forward else items[:bisect.bisect_left(
                keys, order(start))]
        return _page_window(items, forward, *window) if window else items

    # moto copies a page's items whole, and sizes each twice, to keep its answer from writes made meanwhile: the
    # items a partition Query gathered never change (an update changes a copy), so they are its answer as they are
    # and their size holds. The copy and the sizes were two thirds of a page of 500 links.
    moto_copy, moto_size = Item.__deepcopy__, Item.size

    def copied(self: Item, memo: dict[int, Any]) -> Item:
        return self if getattr(_query_partition, "asked", None) else moto_copy(self, memo)

    def size(self: Item) -> int:
        if not getattr(_query_partition, "asked", None):
            return moto_size(self)
        known: int | None = self.__dict__.get("_devstack_size")
        if known is None:
            known = self.__dict__["_devstack_size"] = moto_size(self)
        return known

    query._devstack = True  # type: ignore[attr-defined]
    all_items._devstack_atomic = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Item.__deepcopy__ = copied  # type: ignore[method-assign]
    Item.size = size  # type: ignore[method-assign]


def _page_window(items: list[Any], forward: bool, limit: int | None, comparison: str | None,
                 operands: list[Any] | None) -> list[Any]:
    """The items (in key order) a page of `limit` reads: moto goes through its candidates in order and stops at the
    first one after its `limit`-th match (which it needs, to answer a LastEvaluatedKey), so nothing after that one
    changes its answer. Walked from the far end when the page reads backwards."""
    if not limit:
        return items
    matches = 0
    order = range(len(items)) if forward else range(len(items) - 1, -1, -1)
    for i in order:
        if matches == limit:
            return items[:i + 1] if forward else items[i:]
        if comparison is None or items[i].range_key.compare(comparison, operands):
            matches += 1
    return items


def plain_dynamodb_projections() -> None:
    """Make moto project an item on top-level attribute names by picking them, as DynamoDB does.

    moto turns the whole item into plain values and back once per projected name (six names: six times), the
    largest part of a reconcile's page of links. Names with a path (`a.b`, `a[0]`) still go through moto's own.
    Idempotent, and for the life of the process.
    """
    from moto.dynamodb.models.dynamo_type import Item

    if getattr(Item.project, "_devstack", False):
        return
    moto_project = Item.project

    def project(self: Item, projection_expressions: list[list[str]]) -> Item:
        if not all(len(path) == 1 and "[" not in path[0] for path in projection_expressions):
            return moto_project(self, projection_expressions)
        projected = Item(hash_key=self.hash_key, range_key=self.range_key, attrs={})
        # dict.update: the picked values fit (they did in the whole item), so no size check per attribute, each
        # of which would add up every attribute again; the values are shared, as an answer only reads them
        dict.update(projected.attrs, {path[0]: self.attrs[path[0]] for path in projection_expressions
                                      if path[0] in self.attrs})
        return projected

    project._devstack = True  # type: ignore[attr-defined]
    Item.project = project  # type: ignore[method-assign]


def plain_dynamodb_query_answers() -> None:
    """Make moto answer a DynamoDB Query with the JSON it already made, without its generic serializer.

    That serializer walks the API's shapes for every attribute of every item (half a second for a page of 500
    links); a DynamoDB answer, once moto turned it into plain values, is that JSON already. Idempotent, and for
    the life of the process.
    """
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    if getattr(DynamoHandler.query, "_devstack_plain", False):
        return
    answer_query = DynamoHandler.query

    def answered(self: DynamoHandler) -> Any:
        result = answer_query(self)
        if isinstance(result, DynamoResult):
            try:
                return json.dumps(result.result)  # moto answers a str as the body, status 200
            except TypeError:  # a value JSON does not hold as it is (bytes): moto's serializer knows the shape
                pass
        return result

    answered._devstack_plain = True  # type: ignore[attr-defined]
    DynamoHandler.query = answered  # type: ignore[method-assign]


def constant_time_sqs_receive() -> None:
    """Make moto's ReceiveMessage cost what SQS's does, whatever the queue's depth.

    For every message it returns, moto checks the retention period by building all of the queue's attributes,
    which counts every message in the queue (visible, delayed, in flight): a burst of a few hundred messages
    then spends most of moto's time there, time AWS never spends. The check reads the one attribute it needs.
    Idempotent, and for the life of the process.
    """
    from moto.core.utils import unix_time
    from moto.sqs.models import Message, SQSBackend

    if getattr(SQSBackend.is_message_valid_based_on_retention_period, "_devstack", False):
        return

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Message) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]

    is_message_valid_based_on_retention_period._devstack = True  # type: ignore[attr-defined]
    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]


def as_aws() -> None:
    """Every change the devstack makes to moto, so that it behaves (and costs) as AWS does where we rely on it."""
    atomic_dynamodb_writes()
    constant_time_sqs_receive()
    partition_dynamodb_query()
    plain_dynamodb_projections()
    plain_dynamodb_query_answers()


class MotoProcess:
    """A :class:`MotoServer` alone in a child process (``python -m devstack.moto_server``), its writes atomic."""

    def __init__(self, keys: dict[str, str], port: int = 0) -> None:
        self.keys, self.port = keys, port
        self.endpoint = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "devstack.moto_server", json.dumps(self.keys), str(self.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root, env=env)  # fmt: skip
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # its endpoint, once it listens
        if not line:
            raise RuntimeError(f"moto's child process ended before listening (exit {self._process.wait()})")
        self.endpoint = json.loads(line)["endpoint"]
        return self.endpoint

    @contextmanager
    def listening(self) -> Iterator[list[AwsCall]]:
        """As :meth:`CallRecorder.listening`, but the list is filled when the block ends (the calls are the
        child's until then)."""
        calls: list[AwsCall] = []
        ident = json.loads(self._control("POST", CONTROL))["id"]
        try:
            yield calls
        finally:
            calls.extend(AwsCall(**call) for call in json.loads(self._control("DELETE", f"{CONTROL}/{ident}")))

    def _control(self, method: str, path: str) -> bytes:
        request = urllib.request.Request(f"{self.endpoint}{path}", method=method, data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback server
            return response.read()  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self._process is not None:
            if self._process.stdin is not None:
                self._process.stdin.close()  # the child ends when its stdin does (and if this process dies)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def main(keys_json: str, port: str) -> None:
    """The child: serve until stdin closes."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    as_aws()
    keys: dict[str, str] = json.loads(keys_json)
    server = MotoServer(keys.get, port=int(port), control=True)
    print(json.dumps({"endpoint": server.start()}), flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:3])
