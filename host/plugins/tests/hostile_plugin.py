#!/usr/bin/env python3
"""hostile: a test plugin (dagu-plugin/1, standard library only) whose step types try what
a sandboxed plugin must not be able to do unless granted. Each step reports what happened:
success as outputs, failure as `denied` (EACCES/EPERM) or `failed` with the OS's message.

Step types (config in brackets):

* read_file  {path}          -- reads a file; output CONTENT
* write_file {path, text}    -- writes a file
* connect    {host, port}    -- opens a TCP connection, closes it
* udp        {host, port}    -- sends one UDP datagram ("hostile") (Landlock does not filter
                                UDP: only the empty network namespace stops it)
* env        {name}          -- reads an environment variable; output VALUE
* allocate   {mib}           -- allocates and touches that many MiB
* loop       {}              -- spins forever, ignoring cancel (only a kill ends it)
* privileged {}              -- raises its own scheduling priority (needs CAP_SYS_NICE)

The protocol loop is the minimal one of examples/plugins/python-echo/plugin.py.
"""

import errno
import json
import os
import socket
import sys
import threading

PROTOCOL = "dagu-plugin/1"


def step(name, properties, required=()):
    return {
        "name": name,
        "description": "hostile test step " + name,
        "config_schema": {
            "type": "object",
            "properties": properties,
            "required": list(required),
            "additionalProperties": False,
        },
    }


STR = {"type": "string"}
INT = {"type": "integer"}
MANIFEST = {
    "name": "hostile",
    "version": "0.1.0",
    "protocol": PROTOCOL,
    "step_types": [
        step("read_file", {"path": STR}, ["path"]),
        step("write_file", {"path": STR, "text": STR}, ["path", "text"]),
        step("connect", {"host": STR, "port": INT}, ["host", "port"]),
        step("udp", {"host": STR, "port": INT}, ["host", "port"]),
        step("env", {"name": STR}, ["name"]),
        step("allocate", {"mib": INT}, ["mib"]),
        step("loop", {}),
        step("privileged", {}),
    ],
    "capabilities": {},
}

_out = threading.Lock()


def send(message):
    with _out:
        sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
        sys.stdout.flush()


def log(run_id, line):
    send({"type": "log", "id": run_id, "stream": "stdout", "line": line})


def ok(**outputs):
    return {"ok": {"exit_code": 0, "outputs": [[k, str(v)] for k, v in outputs.items()]}}


def failed(message):
    return {"err": {"kind": "failed", "exit_code": 1, "message": message}}


def os_error(what, e):
    text = "%s: %s" % (what, e)
    if e.errno in (errno.EACCES, errno.EPERM):
        return {"err": {"kind": "denied", "message": text}}
    return failed(text)


def run(run_id, kind, config):
    if kind == "read_file":
        try:
            with open(config["path"]) as f:
                content = f.read()
        except OSError as e:
            return os_error("read " + config["path"], e)
        log(run_id, content)
        return ok(CONTENT=content)
    if kind == "write_file":
        try:
            with open(config["path"], "w") as f:
                f.write(config["text"])
        except OSError as e:
            return os_error("write " + config["path"], e)
        return ok(WROTE=config["path"])
    if kind == "connect":
        target = (config["host"], config["port"])
        try:
            with socket.create_connection(target, timeout=10):
                pass
        except OSError as e:
            return os_error("connect %s:%d" % target, e)
        log(run_id, "connected")
        return ok(CONNECTED="%s:%d" % target)
    if kind == "udp":
        target = (config["host"], config["port"])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"hostile", target)
        except OSError as e:
            return os_error("udp %s:%d" % target, e)
        return ok(SENT="%s:%d" % target)
    if kind == "env":
        value = os.environ.get(config["name"])
        if value is None:
            return failed("%s is not set" % config["name"])
        return ok(VALUE=value)
    if kind == "allocate":
        mib = config["mib"]
        try:
            block = bytearray(mib << 20)  # zero-filled: every page is touched
        except MemoryError:
            return failed("out of memory: could not allocate %d MiB (MemoryError)" % mib)
        size = len(block)
        del block
        return ok(ALLOCATED=size)
    if kind == "loop":
        log(run_id, "looping")
        while True:
            pass
    if kind == "privileged":
        try:
            os.nice(-1)
        except OSError as e:
            return os_error("raise priority", e)
        return ok(NICE=os.nice(0))
    return {"err": {"kind": "invalid_config", "message": "unknown step type %r" % kind}}


def execute(run_id, request):
    try:
        body = run(run_id, request.get("step_type"), request.get("config") or {})
    except Exception as e:  # a bug here fails one run, not the plugin
        body = {"err": {"kind": "internal", "message": "%s: %s" % (type(e).__name__, e)}}
    body.update({"type": "done", "id": run_id})
    send(body)


def main():
    send({"type": "hello", "protocols": [PROTOCOL]})
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        kind = message.get("type")
        if kind == "hello" and message.get("protocol") != PROTOCOL:
            return 1
        if kind == "describe":
            send({"type": "manifest", "manifest": MANIFEST})
        elif kind == "run":
            threading.Thread(target=execute, args=(message["id"], message["request"]),
                             daemon=True).start()
        elif kind == "shutdown":
            break
        # cancel is ignored on purpose: the host must kill what does not stop
    return 0


if __name__ == "__main__":
    sys.exit(main())
