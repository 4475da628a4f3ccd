# Runs moto's threaded server on 127.0.0.1:<argv[1]> (0 = a free port), prints the port it got,
# and stops when stdin reaches EOF (so it goes away with its parent, however the parent ends).
#
# Seven changes to the moto it runs (moto 5.2.5, pinned in requirements-dev.txt):
# - DynamoDB calls are served one at a time. DynamoDB makes each item write atomic and
#   transactions serializable, and moto's threads do not (two conditional writes can both
#   pass), so tests of limits under concurrency would otherwise test moto.
# - An SQS delete and receive hold their queue's lock. moto rebuilds the queue's message list
#   on a delete without it, while a send appends under it: a message sent meanwhile vanished
#   (130 of ~40000 in a chaos run of 10000 events). A receive takes the messages it redrives
#   to the dead-letter queue out of that list without it too: each one taken out while a
#   delete walked the list made the delete skip the message after it (10 of ~40000 in the next
#   run), and two receives redriving one message failed the second. SQS loses no message it
#   accepted.
# The other four only make moto faster, with the same answers: at the volume of a chaos run
# (issue 14) moto spent its time in them, slower with every item and message it held.
# - A Query on a table's key looks in the key's partition, not at every item of the table,
#   sorted, on every call.
# - A transaction backs up the items it names, not a deep copy of each table it touches:
#   only those items can change, and a cancelled one restores them as they were.
# - A receive reads its queue's retention period alone, not the whole attribute set, which
#   counts every message of the queue, once per message it looks at.
# - SQS reads the clock with time.time(), not through two datetimes a call: a send still
#   counts its queue's messages (for one attribute), each count reading the clock.
# Each is applied only where moto still has the code it replaces.
#
# With HOOKLINE_MOTO_SQS_TRACE=<file> it also appends a line per SQS message event (added,
# received, visibility changed, deleted: time, queue, message id, receive count, delivery id)
# to that file: how a chaos run's lost message was followed (decision 42).
import copy
import os
import sys
import threading
import time

from moto.server import ThreadedMotoServer
import moto.dynamodb.models as dynamodb_models
import moto.dynamodb.models.table as dynamodb_table
import moto.dynamodb.responses as dynamodb
import moto.sqs.models as sqs_models

one_at_a_time = threading.Lock()
call_action = dynamodb.DynamoHandler.call_action


def serialised(self):
    with one_at_a_time:
        return call_action(self)


dynamodb.DynamoHandler.call_action = serialised

Table = getattr(dynamodb_table, "Table", None)
if Table is not None and hasattr(Table, "all_items") and hasattr(Table, "query"):
    table_query = Table.query

    def partition_query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or not self.range_key_attr:
            return table_query(self, hash_key, *args, **kwargs)
        # moto filters all_items() down to this partition and sorts it by range key: give it
        # the partition. Calls are one at a time (above), so the override is this call's.
        rows = list(self.items[hash_key].values()) if hash_key in self.items else []
        self.all_items = lambda: rows
        try:
            return table_query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = partition_query

Backend = getattr(dynamodb_models, "DynamoDBBackend", None)
if (
    Table is not None
    and Backend is not None
    and hasattr(Backend, "transact_write_items")
    and hasattr(Backend, "get_keys_value")
):
    transact_write_items = Backend.transact_write_items

    class TablesNotCopied:
        """moto's `copy` inside its DynamoDB backend: a table is "copied" as itself (so moto's
        own rollback restores nothing), everything else deep-copied as before."""

        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def item_backed_up_transaction(self, transact_items):
        saved = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            if op_type == "Put":
                names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
                key = {n: op["Item"][n] for n in names if n in op.get("Item", {})}
            else:
                key = op.get("Key", {})
            try:
                hash_value, range_value = self.get_keys_value(table, key)
            except Exception:
                continue  # moto refuses the transaction itself, before writing anything
            saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        try:
            return transact_write_items(self, transact_items)
        except Exception:
            for table, hash_value, range_value, before in reversed(saved):
                if before is None:
                    if table.get_item(hash_value, range_value) is not None:
                        table.delete_item(hash_value, range_value)
                elif range_value is not None:
                    table.items[hash_value][range_value] = before
                else:
                    table.items[hash_value] = before
            raise

    dynamodb_models.copy = TablesNotCopied
    Backend.transact_write_items = item_backed_up_transaction

SqsQueue = getattr(sqs_models, "Queue", None)
if SqsQueue is not None and hasattr(SqsQueue, "delete_message"):
    queue_delete_message = SqsQueue.delete_message

    def locked_delete_message(self, receipt_handle):
        lock = getattr(self, "_messages_lock", None)
        if lock is None:
            return queue_delete_message(self, receipt_handle)
        with lock:
            return queue_delete_message(self, receipt_handle)

    SqsQueue.delete_message = locked_delete_message

SqsBackend = getattr(sqs_models, "SQSBackend", None)
if SqsBackend is not None and hasattr(SqsBackend, "receive_message"):
    backend_receive_message = SqsBackend.receive_message

    def locked_receive_message(self, queue_name, *args, **kwargs):
        lock = getattr(self.get_queue(queue_name), "_messages_lock", None)
        if lock is None:
            return backend_receive_message(self, queue_name, *args, **kwargs)
        # The lock is a Condition over an RLock: the long poll's wait inside releases it.
        with lock:
            return backend_receive_message(self, queue_name, *args, **kwargs)

    SqsBackend.receive_message = locked_receive_message

if SqsBackend is not None and hasattr(SqsBackend, "is_message_valid_based_on_retention_period"):

    def retained(self, queue_name, message):
        period = int(self.get_queue(queue_name).message_retention_period)
        return period + message.sent_timestamp / 1000 > sqs_models.unix_time()

    SqsBackend.is_message_valid_based_on_retention_period = retained

if hasattr(sqs_models, "unix_time") and hasattr(sqs_models, "unix_time_millis"):
    moto_unix_time, moto_unix_time_millis = sqs_models.unix_time, sqs_models.unix_time_millis
    sqs_models.unix_time = lambda dt=None: time.time() if dt is None else moto_unix_time(dt)
    sqs_models.unix_time_millis = lambda dt=None: time.time() * 1000.0 if dt is None else moto_unix_time_millis(dt)

trace_path = os.environ.get("HOOKLINE_MOTO_SQS_TRACE")
if trace_path and SqsBackend is not None and SqsQueue is not None:
    trace_file = open(trace_path, "a", buffering=1)
    trace_lock = threading.Lock()

    def trace(*fields):
        with trace_lock:
            trace_file.write(" ".join(str(f) for f in fields) + " " + threading.current_thread().name + "\n")

    traced_add = SqsQueue.add_message

    def add_traced(self, message):
        before = len(self._messages)
        traced_add(self, message)
        # The task's delivery id, read as text: no JSON parse on every send.
        body = message.body or ""
        at = body.find("dlv_")
        delivery_id = body[at:].split('"', 1)[0] if at >= 0 else "-"
        trace(round(time.time(), 3), "add", self.name, message.id, message.approximate_receive_count,
              delivery_id, before, len(self._messages))

    SqsQueue.add_message = add_traced
    traced_delete = SqsQueue.delete_message

    def delete_traced(self, receipt_handle):
        ids = [m.id for m in self._messages if m.had_receipt_handle(receipt_handle)]
        current = [m.receipt_handle == receipt_handle for m in self._messages if m.id in ids]
        before = len(self._messages)
        try:
            return traced_delete(self, receipt_handle)
        finally:
            trace(round(time.time(), 3), "delete", self.name, ",".join(ids) or "-", current, before, len(self._messages))

    SqsQueue.delete_message = delete_traced
    traced_receive = SqsBackend.receive_message

    def receive_traced(self, queue_name, count, *args, **kwargs):
        got = traced_receive(self, queue_name, count, *args, **kwargs)
        for m in got:
            trace(round(time.time(), 3), "receive", queue_name, m.id, m.approximate_receive_count, "-", "-", "-")
        return got

    SqsBackend.receive_message = receive_traced
    traced_visibility = SqsBackend.change_message_visibility

    def visibility_traced(self, queue_name, receipt_handle, visibility_timeout):
        queue = self.get_queue(queue_name)
        ids = [m.id for m in queue._messages if m.had_receipt_handle(receipt_handle)]
        try:
            return traced_visibility(self, queue_name, receipt_handle, visibility_timeout)
        finally:
            trace(round(time.time(), 3), "visibility", queue_name, ",".join(ids) or "-", visibility_timeout, "-", "-", "-")

    SqsBackend.change_message_visibility = visibility_traced

server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("MOTO_PORT", server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
