"""Webhooks delivered locally (DESIGN 2.9, 4): what AWS does between the table and the two
webhook functions, run in background threads of ``make dev`` and of the integration tests.

- The queue: moto's SQS on 127.0.0.1 (a free port), the template's ``WebhookQueue`` with its
  dead-letter queue and ``maxReceiveCount``. Served one request at a time (moto is not
  thread-safe: two receives at once could both take a message). The functions reach it through
  boto's own ``AWS_ENDPOINT_URL_SQS`` and ``WEBHOOK_QUEUE_URL`` (`LocalWebhooks.environment`),
  which must be in the process environment before the functions load (their settings are read
  once).
- The stream: DynamoDB Local's stream of the table (``dynamodbstreams`` on the same endpoint),
  read every ``POLL_S`` from the shards open at start (``LATEST``: nothing older is replayed,
  as the template's ``StartingPosition``) and from any later shard from its start, its parent
  first. Records go to ``WebhookEventsFunction``'s handler as Lambda sends them (the record
  shape, ``FilterCriteria``, ``BatchSize``), and a batch with ``batchItemFailures`` is sent
  again from the first failed record on, at most ``MaximumRetryAttempts`` times, then skipped
  (the handler raising: the whole batch again; Lambda would also bisect it).
- The sender: ``SENDERS`` threads receiving up to ``BatchSize`` messages (as Lambda's SQS
  pollers, several at once), calling ``WebhookSenderFunction``'s handler with the SQS event,
  and deleting the messages it did not report in ``batchItemFailures`` (those stay, hidden
  for the backoff the handler set with ChangeMessageVisibility).

``WEBHOOK_ALLOW_LOCAL=true`` (the template's ``AllowLocalWebhooks``) is part of the
environment: a developer registers ``http://127.0.0.1:<port>/...`` with ``PUT /webhook``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from devstack.dynamodb_local import DUMMY_CREDENTIALS, REGION
from devstack.dynamodb_local import client as dynamodb_client
from devstack.template import REPO_ROOT, Route, load_template, table_create_kwargs

EVENTS_FUNCTION = "WebhookEventsFunction"
SENDER_FUNCTION = "WebhookSenderFunction"
QUEUE = "WebhookQueue"
QUEUE_NAME = "coupon-webhooks"
POLL_S = 0.1  # the stream and the queue are read this often when idle
SHARDS_EVERY_S = 1.0  # the stream's shards are listed again this often
SENDERS = 4
RETRY_PAUSE_S = 0.2  # before a stream batch is sent again (doubling, at most 2 s)

type Log = Callable[[str], None]
type Around = Callable[[str], AbstractContextManager[object]]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the template: the functions, their event sources, the queue -------------------------------


@dataclass(frozen=True)
class Function:
    """A function of the template that is not behind a route, and its event source."""

    route: Route  # its code and handler (method and path unused)
    source: dict[str, Any]  # the properties of its event (DynamoDB or SQS)

    @property
    def batch_size(self) -> int:
        return int(self.source.get("BatchSize", 100))

    @property
    def filters(self) -> list[dict[str, Any]]:
        criteria = self.source.get("FilterCriteria") or {}
        return [json.loads(f["Pattern"]) for f in criteria.get("Filters") or []]

    @property
    def max_retries(self) -> int:
        return int(self.source.get("MaximumRetryAttempts", 10))


def template_function(logical_id: str) -> Function:
    template = load_template()
    glob = (template.get("Globals") or {}).get("Function") or {}
    props = template["Resources"][logical_id]["Properties"]
    (event,) = (props.get("Events") or {}).values()
    return Function(
        Route(
            method="",
            path="",
            function_logical_id=logical_id,
            code_dir=(REPO_ROOT / props["CodeUri"]).resolve(),
            handler=str(props.get("Handler", glob.get("Handler"))),
            memory_size=int(props.get("MemorySize", glob.get("MemorySize", 128))),
            timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
        ),
        dict(event.get("Properties") or {}),
    )


def _queue_attributes() -> tuple[str, int]:
    """The queue's visibility timeout and its dead-letter queue's maxReceiveCount."""
    props = load_template()["Resources"][QUEUE]["Properties"]
    redrive = props.get("RedrivePolicy") or {}
    return str(props.get("VisibilityTimeout", 30)), int(redrive.get("maxReceiveCount", 0))


# --- Lambda's event filtering (the subset the template uses) ------------------------------------


def _matches_value(wanted: Sequence[Any], value: Any) -> bool:
    for rule in wanted:
        if isinstance(rule, dict):
            if "prefix" in rule and isinstance(value, str) and value.startswith(rule["prefix"]):
                return True
            if "exists" in rule and bool(rule["exists"]) == (value is not None):
                return True
            if "anything-but" in rule:
                excluded = rule["anything-but"]
                excluded = excluded if isinstance(excluded, list) else [excluded]
                if value is not None and value not in excluded:
                    return True
        elif value is not None and value == rule:
            return True
    return False


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """Whether ``record`` matches one filter pattern (Lambda: every key of the pattern)."""
    if not isinstance(record, Mapping):
        return False
    for key, wanted in pattern.items():
        value = record.get(key)
        if isinstance(wanted, Mapping):
            if not matches(wanted, value):
                return False
        elif not _matches_value(wanted, value):
            return False
    return True


def passes(filters: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Lambda invokes the function for a record matching any filter (all, without filters)."""
    return not filters or any(matches(pattern, record) for pattern in filters)


# --- the queue: moto's SQS ---------------------------------------------------------------------


class _SqsServer:
    """moto's server on 127.0.0.1, one request at a time, from a daemon thread."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class Quiet(MotoRequestHandler):
            def log(self, *args: Any, **kwargs: Any) -> None:
                pass  # no line per request on make dev's terminal

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=Quiet)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhooks-sqs", daemon=True
        )
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _sqs_client(endpoint: str) -> Any:
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard"}),
        aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
    )


def _streams_client(endpoint: str) -> Any:
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "dynamodbstreams",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard"}),
        aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
    )


# --- the pipeline ------------------------------------------------------------------------------


@dataclass
class Counters:
    """What the pipeline did, for the tests and for a developer wondering."""

    stream_records: int = 0  # read from the stream
    stream_invocations: int = 0  # of the events function
    stream_retries: int = 0  # batches sent again (batchItemFailures or an exception)
    stream_skipped: int = 0  # records given up after MaximumRetryAttempts
    sender_invocations: int = 0
    messages_deleted: int = 0
    messages_kept: int = 0  # reported in batchItemFailures: back on the queue later
    errors: list[str] = field(default_factory=list)  # the pipeline's own failures


@dataclass
class _Shard:
    id: str
    iterator: str | None
    last_sequence: str | None = None


class LocalWebhooks:
    """The local queue, stream reader and sender (see the module docstring).

    ``start_queue()`` first (it returns the environment the functions need: put it in
    ``os.environ`` before they load), then ``start()`` once the table exists; ``stop()``.
    ``around(logical_id)``, if given, wraps each invocation (the tests name the calling
    function for their least-privilege check)."""

    def __init__(
        self,
        dynamodb_endpoint: str,
        table_name: str,
        *,
        log: Log = _stderr,
        around: Around | None = None,
        poll_s: float = POLL_S,
        senders: int = SENDERS,
    ) -> None:
        self.dynamodb_endpoint = dynamodb_endpoint
        self.table_name = table_name
        self.log = log
        self.around: Around = around or (lambda _: nullcontext())
        self.poll_s = poll_s
        self.senders = senders
        self.counters = Counters()
        self.queue_url = ""
        self.stream_arn = ""
        self._sqs: _SqsServer | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open_shards: frozenset[str] = frozenset()  # being read now (the stream thread)
        self._events = template_function(EVENTS_FUNCTION)
        self._sender = template_function(SENDER_FUNCTION)

    # -- start and stop --------------------------------------------------------------------

    def start_queue(self) -> dict[str, str]:
        """Start moto's SQS with the template's queue; the environment the functions need."""
        if self._sqs is None:
            self._sqs = _SqsServer()
            sqs = _sqs_client(self._sqs.endpoint)
            visibility, max_receives = _queue_attributes()
            dead = sqs.create_queue(QueueName=f"{QUEUE_NAME}-dead-letters")["QueueUrl"]
            dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            attributes = {"VisibilityTimeout": visibility}
            if max_receives:
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receives}
                )
            self.queue_url = sqs.create_queue(QueueName=QUEUE_NAME, Attributes=attributes)[
                "QueueUrl"
            ]
        return self.environment

    @property
    def environment(self) -> dict[str, str]:
        if self._sqs is None:
            raise RuntimeError("start_queue() first")
        return {
            # boto's own variable: the functions' SQS client goes to the local queue.
            "AWS_ENDPOINT_URL_SQS": self._sqs.endpoint,
            "WEBHOOK_QUEUE_URL": self.queue_url,
            # The template's AllowLocalWebhooks: http://127.0.0.1 receivers (never deployed).
            "WEBHOOK_ALLOW_LOCAL": "true",
        }

    def start(self) -> None:
        """Read the table's stream and the queue from background threads (the table exists;
        its stream is turned on if a table made by an older template lacks it)."""
        self.start_queue()
        from devstack.gateway import Gateway

        functions = Gateway(routes=[], quiet=True)
        # Loaded now, in the environment set by now: a function that cannot load says so here.
        events_handler = functions.handler_for(self._events.route)
        sender_handler = functions.handler_for(self._sender.route)
        self.stream_arn = self._ensure_stream()
        streams = _streams_client(self.dynamodb_endpoint)
        shards = self._shards(streams, at_start=True)
        self._spawn("webhooks-stream", self._read_stream, streams, shards, events_handler)
        for number in range(self.senders):
            self._spawn(f"webhooks-sender-{number}", self._send, sender_handler)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self._threads.clear()
        if self._sqs is not None:
            self._sqs.stop()
            self._sqs = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=self._guarded, args=(target, *args), name=name)
        thread.daemon = True
        thread.start()
        self._threads.append(thread)

    def _guarded(self, target: Callable[..., None], *args: Any) -> None:
        while not self._stop.is_set():
            try:
                target(*args)
                return
            except Exception as error:  # keep going: a developer's stack does not stop
                self._failed(f"{threading.current_thread().name}: {error!r}")
                self._stop.wait(1.0)

    def _failed(self, message: str) -> None:
        self.counters.errors.append(message)
        self.log(f"webhooks: {message}")

    # -- the stream -> the events function --------------------------------------------------

    def _ensure_stream(self) -> str:
        ddb = dynamodb_client(self.dynamodb_endpoint)
        table = ddb.describe_table(TableName=self.table_name)["Table"]
        if not (table.get("StreamSpecification") or {}).get("StreamEnabled"):
            wanted = table_create_kwargs(self.table_name).get("StreamSpecification")
            if not wanted:
                raise RuntimeError("template.yaml gives the table no StreamSpecification")
            self.log(f"webhooks: turning on the stream of table {self.table_name} (once)")
            ddb.update_table(TableName=self.table_name, StreamSpecification=wanted)
            table = ddb.describe_table(TableName=self.table_name)["Table"]
        return str(table["LatestStreamArn"])

    def _shards(
        self, streams: Any, *, at_start: bool, known: set[str] | None = None
    ) -> dict[str, _Shard]:
        """The shards to read that are not ``known``: at start the open ones from now on
        (LATEST), later any new one from its first record, once its parent is read out."""
        known = known or set()
        found: list[dict[str, Any]] = []
        start: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            answer = streams.describe_stream(**start)["StreamDescription"]
            found += answer.get("Shards") or []
            if not answer.get("LastEvaluatedShardId"):
                break
            start["ExclusiveStartShardId"] = answer["LastEvaluatedShardId"]
        shards: dict[str, _Shard] = {}
        for shard in found:
            shard_id = shard["ShardId"]
            if shard_id in known:
                continue
            closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
            if at_start:
                if closed:
                    known.add(shard_id)  # before our time
                    continue
                kind = "LATEST"
            else:
                parent = shard.get("ParentShardId")
                if parent and parent in self._open_shards:
                    continue  # its parent first (a record's order is kept across shards)
                kind = "TRIM_HORIZON"
            iterator = streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=kind
            ).get("ShardIterator")
            shards[shard_id] = _Shard(shard_id, iterator)
        return shards

    def _read_stream(self, streams: Any, shards: dict[str, _Shard], handler: Any) -> None:
        done: set[str] = set()
        listed = time.monotonic()
        while not self._stop.is_set():
            self._open_shards = frozenset(shards)
            if time.monotonic() - listed > SHARDS_EVERY_S:
                shards.update(self._shards(streams, at_start=False, known=done | set(shards)))
                listed = time.monotonic()
            busy = False
            for shard in list(shards.values()):
                if shard.iterator is None:
                    del shards[shard.id]
                    done.add(shard.id)
                    continue
                records = self._get_records(streams, shard)
                if records:
                    busy = True
                    self.counters.stream_records += len(records)
                    self._deliver_records(records, handler)
                    shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
            if not busy:
                self._stop.wait(self.poll_s)

    def _get_records(self, streams: Any, shard: _Shard) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        try:
            answer = streams.get_records(ShardIterator=shard.iterator, Limit=1000)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code not in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                raise
            # Start again after the last record read (or from the oldest one kept).
            where: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
            if shard.last_sequence and code == "ExpiredIteratorException":
                where = {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "SequenceNumber": shard.last_sequence,
                }
            shard.iterator = streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard.id, **where
            ).get("ShardIterator")
            return []
        shard.iterator = answer.get("NextShardIterator")
        return [self._lambda_record(record) for record in answer.get("Records") or []]

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record as Lambda passes it: the low-level images as they are, the time as epoch
        seconds (botocore parsed it into a datetime)."""
        change = dict(record.get("dynamodb") or {})
        for image in ("Keys", "OldImage", "NewImage"):
            if image in change:
                change[image] = {k: _attribute(v) for k, v in change[image].items()}
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record.get("eventID"),
            "eventName": record.get("eventName"),
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion", REGION),
            "dynamodb": change,
            "eventSourceARN": self.stream_arn,
        }

    def _deliver_records(self, records: list[dict[str, Any]], handler: Any) -> None:
        wanted = [r for r in records if passes(self._events.filters, r)]
        size = max(1, self._events.batch_size)
        for start in range(0, len(wanted), size):
            self._invoke_stream(wanted[start : start + size], handler)

    def _invoke_stream(self, batch: list[dict[str, Any]], handler: Any) -> None:
        """One batch, sent again from its first failed record until it goes through, at most
        MaximumRetryAttempts times; what is still failing then is skipped (as Lambda does)."""
        retries = 0
        while batch and not self._stop.is_set():
            self.counters.stream_invocations += 1
            try:
                with self.around(EVENTS_FUNCTION):
                    answer = handler({"Records": batch}, _Context(self._events.route))
                failed = {
                    str(item.get("itemIdentifier"))
                    for item in (answer or {}).get("batchItemFailures") or []
                }
            except Exception as error:
                self._failed(f"{EVENTS_FUNCTION} raised {error!r}")
                failed = {str(batch[0]["dynamodb"]["SequenceNumber"])}
            positions = [
                n for n, r in enumerate(batch) if str(r["dynamodb"]["SequenceNumber"]) in failed
            ]
            if not positions:
                return
            batch = batch[min(positions) :]
            if retries >= self._events.max_retries:
                self.counters.stream_skipped += len(batch)
                self._failed(f"{EVENTS_FUNCTION}: {len(batch)} record(s) skipped after retries")
                return
            retries += 1
            self.counters.stream_retries += 1
            self._stop.wait(min(2.0, RETRY_PAUSE_S * 2 ** (retries - 1)))

    # -- the queue -> the sender ------------------------------------------------------------

    def _send(self, handler: Any) -> None:
        assert self._sqs is not None
        sqs = _sqs_client(self._sqs.endpoint)
        while not self._stop.is_set():
            received = (
                sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=min(10, self._sender.batch_size),
                    WaitTimeSeconds=0,  # one request at a time on moto: no long polls
                    AttributeNames=["All"],
                ).get("Messages")
                or []
            )
            if not received:
                self._stop.wait(self.poll_s)
                continue
            self._invoke_sender(sqs, received, handler)

    def _invoke_sender(self, sqs: Any, received: list[dict[str, Any]], handler: Any) -> None:
        queue_arn = f"arn:aws:sqs:{REGION}:123456789012:{QUEUE_NAME}"
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes") or {},
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in received
        ]
        self.counters.sender_invocations += 1
        try:
            with self.around(SENDER_FUNCTION):
                answer = handler({"Records": records}, _Context(self._sender.route))
        except Exception as error:  # all of them come back after the visibility timeout
            self._failed(f"{SENDER_FUNCTION} raised {error!r}")
            return
        kept = {
            str(item.get("itemIdentifier"))
            for item in (answer or {}).get("batchItemFailures") or []
        }
        done = [m for m in received if m["MessageId"] not in kept]
        self.counters.messages_kept += len(received) - len(done)
        if done:
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)
                ],
            )
            self.counters.messages_deleted += len(done)


def _attribute(value: Any) -> Any:
    """DynamoDB Local's stream writes an empty map as ``{}`` (DynamoDB: ``{"M": {}}``)."""
    if value == {}:
        return {"M": {}}
    if isinstance(value, dict) and isinstance(value.get("M"), dict):
        return {"M": {k: _attribute(v) for k, v in value["M"].items()}}
    if isinstance(value, dict) and isinstance(value.get("L"), list):
        return {"L": [_attribute(v) for v in value["L"]]}
    return value


class _Context:
    """The little of Lambda's context the webhook functions could read."""

    def __init__(self, route: Route) -> None:
        self.function_name = route.function_logical_id
        self.memory_limit_in_mb = route.memory_size
        self._deadline = time.monotonic() + route.timeout
        self.aws_request_id = f"local-{time.time_ns():x}"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{REGION}:123456789012:function:{route.function_logical_id}"
        )

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def banner_line(base_url: str) -> str:
    """The line make dev prints about webhooks."""
    return (
        "Webhooks: delivered from DynamoDB Local's stream through a local SQS queue (moto); "
        f"register a receiver on http://127.0.0.1:<port>/<path> with PUT {base_url}/webhook "
        "(http to 127.0.0.1 is allowed in make dev only)"
    )
