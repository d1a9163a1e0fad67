"""Shared bits of the Qpid Proton test clients: JSON-line output and option parsing.

The clients print one JSON object per line on stdout (flushed at once) so the vitest
side can wait for each event as it happens.
"""

import argparse
import base64
import json
import sys

from proton import Condition
from proton.handlers import MessagingHandler


def emit(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields, default=repr) + "\n")
    sys.stdout.flush()


def jsonable(value):
    """Message bodies and properties as JSON: binary becomes {"binary": base64}, other AMQP types their repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"binary": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return {"type": type(value).__name__, "repr": repr(value)}


def condition_fields(condition):
    if condition is None:
        return {}
    if isinstance(condition, Condition):
        return {"condition": condition.name, "description": condition.description}
    return {"condition": str(condition)}


def base_parser(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--address", required=True, help="link target (send) or source (receive) address")
    parser.add_argument("--count", type=int, default=1, help="messages to send or receive before closing")
    parser.add_argument("--user", default=None, help="SASL PLAIN user; none means SASL ANONYMOUS")
    parser.add_argument("--password", default=None)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before giving up (exit status 3)")
    return parser


def connect(container, args):
    url = "amqp://%s:%d" % (args.host, args.port)
    if args.user is not None:
        return container.connect(url, user=args.user, password=args.password or "",
                                 allowed_mechs="PLAIN", allow_insecure_mechs=True, reconnect=False)
    return container.connect(url, allowed_mechs="ANONYMOUS", reconnect=False)


class ClientHandler(MessagingHandler):
    """What the sender and receiver share: any link, connection or transport error ends the run with status 2.

    Subclasses set self.connection and self.timer, and say what their "done" line reports in done_fields().
    """

    def done_fields(self):
        return {}

    def on_link_error(self, event):
        emit("error", scope="link", **condition_fields(event.link.remote_condition))
        self.status = 2
        self.finish()

    def on_connection_error(self, event):
        emit("error", scope="connection", **condition_fields(event.connection.remote_condition))
        self.status = 2
        self.finish()

    def on_disconnected(self, event):
        # Proton reports a peer that closes and hangs up at once only as a disconnect.
        if self.connection is not None:
            # The peer's close frame, if it was read before the hang-up, still tells why.
            fields = condition_fields(event.connection.remote_condition if event.connection else None)
            emit("error", scope="disconnected", **fields)
            self.status = 2
            self.finish()

    def on_transport_error(self, event):
        emit("error", scope="transport", **condition_fields(event.transport.condition))
        self.status = 2
        self.finish()

    def finish(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.connection is not None:
            self.connection.close()
            self.connection = None
            emit("done", **self.done_fields())
