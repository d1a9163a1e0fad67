"""Decodes AMQP messages with Qpid Proton (C, through its Python binding) and prints each one as a tree of
typed values, for comparison with what rhea's reader saw.

stdin: a JSON list of hex-encoded messages (the raw payload of each transfer).
stdout: a JSON list, one entry per message: {"sections": [...], "message": {...}} where each section is
{"described": <descriptor code>, "value": <typed value>} and a typed value is {"type": name, "value": text or
list of typed values}; "message" is what proton.Message reads from the bytes.
"""
import json
import sys

from proton import Data, Message

NAMES = {"bool": "boolean"}


def scalar(value, name):
    if value is None:
        return "null"
    if name == "bool":
        return "true" if value else "false"
    if name == "binary":
        return bytes(value).hex()
    if name == "uuid":
        return value.bytes.hex()
    if name in ("ubyte", "byte", "ushort", "short", "uint", "int", "ulong", "long", "timestamp"):
        return str(int(value))
    if name in ("float", "double"):
        return repr(float(value))
    return str(value)


def walk_one(data):
    kind = data.type()
    name = Data.type_name(kind)
    if kind == Data.DESCRIBED:
        data.enter()
        data.next()
        descriptor = data.get_object()
        data.next()
        inner = walk_one(data)
        data.exit()
        return {"described": int(descriptor), "value": inner}
    if kind in (Data.LIST, Data.MAP, Data.ARRAY):
        data.enter()
        items = []
        while data.next() is not None:
            items.append(walk_one(data))
        data.exit()
        return {"type": NAMES.get(name, name), "value": items}
    return {"type": NAMES.get(name, name), "value": scalar(data.get_object(), name)}


def sections(raw):
    out = []
    offset = 0
    while offset < len(raw):
        data = Data()
        offset += data.decode(raw[offset:])
        data.rewind()
        data.next()
        out.append(walk_one(data))
    return out


def message_view(raw):
    message = Message()
    message.decode(raw)
    annotations = message.annotations or {}
    return {
        "address": message.address,
        "subject": message.subject,
        "durable": message.durable,
        "annotationTypes": {str(k): type(v).__name__ for k, v in annotations.items()},
        "bodyType": type(message.body).__name__,
    }


result = []
for hexed in json.load(sys.stdin):
    raw = bytes.fromhex(hexed)
    result.append({"sections": sections(raw), "message": message_view(raw)})
json.dump(result, sys.stdout)
