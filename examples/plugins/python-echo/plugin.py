#!/usr/bin/env python3
"""python-echo: an example dagu step-type plugin speaking dagu-plugin/1.

Standard library only. Provides the step type `echo`:

    config: {message: string, mode?: "normal" | "slow" | "stubborn" | "crash", barrier?: int}

It logs the message to the step's stdout and returns it as the output MESSAGE (and as
result_json). The other modes exist to show (and test) the protocol's edges:

* slow     -- logs, then waits until the host cancels the run, and answers `cancelled`
* stubborn -- logs, then ignores cancel and never ends (the host kills the process)
* crash    -- logs, writes to stderr and exits the whole process with status 3
* barrier  -- (with a number N) waits until N such runs are in progress at once

Run with `--protocols LIST` (comma-separated) to claim other protocol versions.
"""

import json
import os
import sys
import threading

PROTOCOL = "dagu-plugin/1"

MANIFEST = {
    "name": "python-echo",
    "version": "0.1.0",
    "protocol": PROTOCOL,
    "step_types": [
        {
            "name": "echo",
            "description": "Logs a message and returns it as the output MESSAGE",
            "config_schema": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "mode": {"enum": ["normal", "slow", "stubborn", "crash"]},
                    "barrier": {"type": "integer", "minimum": 1},
                },
                "required": ["message"],
                "additionalProperties": False,
            },
            "output_schema": {
                "type": "object",
                "properties": {"message": {"type": "string"}},
            },
        }
    ],
    "capabilities": {},
}

# How long a barrier or a slow run waits before giving up (seconds).
WAIT_LIMIT = 60

_out_lock = threading.Lock()
_runs = {}  # id -> threading.Event (set when cancelled)
_runs_lock = threading.Lock()
_barriers = {}  # size -> threading.Barrier
_barriers_lock = threading.Lock()


def send(message):
    """Writes one message as one line of JSON on stdout."""
    line = json.dumps(message, separators=(",", ":"))
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def diag(text):
    """Diagnostics go to stderr, never stdout."""
    sys.stderr.write("python-echo: " + text + "\n")
    sys.stderr.flush()


def log(run_id, line, stream="stdout"):
    send({"type": "log", "id": run_id, "stream": stream, "line": line})


def barrier(size):
    with _barriers_lock:
        if size not in _barriers:
            _barriers[size] = threading.Barrier(size, timeout=WAIT_LIMIT)
        return _barriers[size]


def run_echo(run_id, request, cancelled):
    """Runs one `echo` step; returns the body of the `done` message."""
    config = request.get("config") or {}
    message = config.get("message")
    if not isinstance(message, str):
        return {"err": {"kind": "invalid_config", "message": "message must be a string"}}
    mode = config.get("mode", "normal")
    log(run_id, message)
    if config.get("barrier"):
        log(run_id, "waiting at the barrier")
        try:
            barrier(int(config["barrier"])).wait()
        except threading.BrokenBarrierError:
            return {"err": {"kind": "failed", "exit_code": 1,
                            "message": "the other runs did not arrive in time"}}
        log(run_id, "passed the barrier")
    if mode == "slow":
        log(run_id, "waiting for cancel")
        if cancelled.wait(WAIT_LIMIT):
            log(run_id, "cancelled, cleaning up", "stderr")
            return {"err": {"kind": "cancelled"}}
    elif mode == "stubborn":
        log(run_id, "ignoring cancel")
        threading.Event().wait()  # never set: only a kill ends this
    elif mode == "crash":
        diag("crashing on purpose")
        os._exit(3)
    return {"ok": {"exit_code": 0, "outputs": [["MESSAGE", message]],
                   "result_json": {"message": message}}}


def execute(run_id, request, cancelled):
    try:
        if request.get("step_type") != "echo":
            body = {"err": {"kind": "invalid_config",
                            "message": "unknown step type %r" % request.get("step_type")}}
        else:
            body = run_echo(run_id, request, cancelled)
    except Exception as e:  # a bug here fails one run, not the plugin
        body = {"err": {"kind": "internal", "message": "%s: %s" % (type(e).__name__, e)}}
    body.update({"type": "done", "id": run_id})
    send(body)
    with _runs_lock:
        _runs.pop(run_id, None)


def protocols_offered():
    if "--protocols" in sys.argv:
        return sys.argv[sys.argv.index("--protocols") + 1].split(",")
    return [PROTOCOL]


def messages():
    """Host messages, one per line; lines that are not JSON are reported and skipped."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError:
            diag("ignoring a line that is not JSON: " + line.strip()[:200])


def main():
    send({"type": "hello", "protocols": protocols_offered()})
    incoming = messages()
    hello = next(incoming, None)
    if hello is None or hello.get("type") != "hello":
        return 0
    if hello.get("protocol") != PROTOCOL:
        diag("the host chose %r; only %s is spoken here" % (hello.get("protocol"), PROTOCOL))
        return 1
    threads = []
    for message in incoming:
        kind = message.get("type")
        if kind == "describe":
            send({"type": "manifest", "manifest": MANIFEST})
        elif kind == "run":
            run_id = message["id"]
            cancelled = threading.Event()
            with _runs_lock:
                _runs[run_id] = cancelled
            t = threading.Thread(target=execute, args=(run_id, message["request"], cancelled),
                                 daemon=True)
            t.start()
            threads.append(t)
        elif kind == "cancel":
            with _runs_lock:
                event = _runs.get(message.get("id"))
            if event is not None:
                event.set()
        elif kind == "shutdown":
            break
        else:
            diag("ignoring a message of type %r" % kind)
    # Shutdown or end of input: cancel what still runs, give it a moment, exit.
    with _runs_lock:
        for event in _runs.values():
            event.set()
    for t in threads:
        t.join(timeout=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
