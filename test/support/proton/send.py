#!/usr/bin/python3
"""Qpid Proton sender for the interop tests.

Sends --count messages (body "<prefix>-<n>", message-id "<prefix>-<n>", application property
"n" = n) to --address, at-most-once (pre-settled) or at-least-once (unsettled, waits for every
outcome). Prints JSON lines: attached, sent, accepted/rejected/released/modified, error, done.
Exit status: 0 all sent (and, at-least-once, all settled), 2 link/connection error, 3 timeout.
"""

import sys

from proton import Message
from proton.reactor import AtLeastOnce, AtMostOnce, Container

from common import ClientHandler, base_parser, condition_fields, connect, emit


class Sender(ClientHandler):
    def __init__(self, args):
        super(Sender, self).__init__(auto_settle=True)
        self.args = args
        self.sent = 0
        self.settled = 0
        self.status = 0
        self.timer = None
        self.connection = None

    def on_start(self, event):
        self.timer = event.container.schedule(self.args.timeout, self)
        self.connection = connect(event.container, self.args)
        option = AtMostOnce() if self.args.settle == "at-most-once" else AtLeastOnce()
        event.container.create_sender(self.connection, self.args.address, options=[option])

    def on_timer_task(self, event):
        emit("timeout", sent=self.sent, settled=self.settled)
        self.status = 3
        self.finish()

    def on_link_opened(self, event):
        target = event.link.remote_target
        emit("attached", address=target.address if target else None)

    def on_sendable(self, event):
        sender = event.sender
        while sender.credit and self.sent < self.args.count:
            n = self.sent
            name = "%s-%d" % (self.args.prefix, n)
            message = Message(id=name, body=name, durable=self.args.durable, properties={"n": n})
            sender.send(message, tag=str(n))
            self.sent += 1
            emit("sent", n=n, id=name)
        if self.args.settle == "at-most-once" and self.sent == self.args.count:
            self.finish()

    def _outcome(self, event, outcome, **extra):
        emit(outcome, n=int(event.delivery.tag), **extra)
        self.settled += 1
        if self.settled == self.args.count:
            self.finish()

    def on_accepted(self, event):
        self._outcome(event, "accepted")

    def on_rejected(self, event):
        self._outcome(event, "rejected", **condition_fields(event.delivery.remote.condition))

    def on_released(self, event):
        state = event.delivery.remote_state
        # Proton reports modified through on_released as well; tell them apart.
        outcome = "modified" if state == event.delivery.MODIFIED else "released"
        self._outcome(event, outcome)

    def done_fields(self):
        return {"sent": self.sent, "settled": self.settled}


def main():
    parser = base_parser("Qpid Proton sender")
    parser.add_argument("--settle", choices=["at-most-once", "at-least-once"], default="at-least-once")
    parser.add_argument("--prefix", default="proton")
    parser.add_argument("--durable", action="store_true")
    args = parser.parse_args()
    handler = Sender(args)
    Container(handler).run()
    return handler.status


if __name__ == "__main__":
    sys.exit(main())
