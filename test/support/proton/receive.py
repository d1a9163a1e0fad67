#!/usr/bin/python3
"""Qpid Proton receiver for the interop tests.

Attaches to --address with --credit (prefetch) and settles each of --count messages with
--outcome (accept, reject, release), then closes the connection (with --linger it stays
connected until stopped or --timeout). Prints JSON lines: attached, message (id, body,
properties, durable, settled-on-arrival), received-all, error, done.
Exit status: 0 received --count, 2 link/connection error, 3 timeout.
"""

import sys

from proton import Condition
from proton.reactor import Container

from common import ClientHandler, base_parser, connect, emit, jsonable


class Receiver(ClientHandler):
    def __init__(self, args):
        super(Receiver, self).__init__(prefetch=args.credit, auto_accept=False)
        self.args = args
        self.received = 0
        self.status = 0
        self.timer = None
        self.connection = None

    def on_start(self, event):
        self.timer = event.container.schedule(self.args.timeout, self)
        self.connection = connect(event.container, self.args)
        event.container.create_receiver(self.connection, self.args.address)

    def on_timer_task(self, event):
        emit("timeout", received=self.received)
        self.status = 3
        self.finish()

    def on_link_opened(self, event):
        source = event.link.remote_source
        emit("attached", address=source.address if source else None)

    def on_message(self, event):
        if self.received >= self.args.count:
            # Credit was granted ahead: give the extra ones back to the sender.
            self.release(event.delivery, delivered=False)
            return
        message = event.message
        emit("message", n=self.received, id=jsonable(message.id), body=jsonable(message.body),
             properties=jsonable(message.properties), durable=bool(message.durable),
             settled=bool(event.delivery.settled))
        self.received += 1
        if not event.delivery.settled:
            if self.args.outcome == "accept":
                self.accept(event.delivery)
            elif self.args.outcome == "reject":
                event.delivery.local.condition = Condition("dragoman:test-reject", "rejected by the proton test client")
                self.reject(event.delivery)
            else:
                self.release(event.delivery, delivered=False)
        if self.received == self.args.count:
            emit("received-all", received=self.received)
            if not self.args.linger:
                self.finish()

    def done_fields(self):
        return {"received": self.received}


def main():
    parser = base_parser("Qpid Proton receiver")
    parser.add_argument("--credit", type=int, default=10)
    parser.add_argument("--outcome", choices=["accept", "reject", "release"], default="accept")
    parser.add_argument("--linger", action="store_true", help="stay connected after the last message")
    args = parser.parse_args()
    handler = Receiver(args)
    Container(handler).run()
    return handler.status


if __name__ == "__main__":
    sys.exit(main())
