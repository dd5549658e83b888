#!/usr/bin/env python3
"""A CloudEvents HTTP receiver built on the Python `cloudevents` SDK from PyPI.

Every request is parsed with the SDK's own `from_http` (binary or structured mode, detected
by the SDK) and what it got is appended to --out as one JSON line. The interoperability and
durability tests of lifecycle-cloudevents start it; nobody in this project wrote the parser.

Usage: receiver.py --port N --out FILE [--fail N] [--delay SECONDS] [--answer ID=STATUS]...
Prints "listening PORT" on stdout once it accepts requests. --fail answers 503 to the
first N requests, to exercise the sender's retries; their ids go to FILE.refused.
--answer answers STATUS to every request for the event ID (recorded in FILE.refused too,
with the status), to exercise permanent refusals and dead letters.
--delay waits that long between recording an event and answering, so that a sender killed
meanwhile leaves an event delivered but not acknowledged.
"""

import argparse
import json
import sys
import threading
from time import sleep
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from cloudevents.core.bindings.http import HTTPMessage, from_http
    from cloudevents.core.formats.json import JSONFormat

    def parse(headers, body):
        return from_http(HTTPMessage(headers=headers, body=body), JSONFormat())

    def attributes(event):
        return {
            "specversion": event.get_specversion(),
            "type": event.get_type(),
            "source": event.get_source(),
            "subject": event.get_subject(),
            "id": event.get_id(),
            "time": event.get_time(),
            "datacontenttype": event.get_datacontenttype(),
            "data": event.get_data(),
        }

except ImportError:  # the SDK's 1.x interface
    try:
        from cloudevents.http import from_http as from_http_v1
    except ImportError:
        sys.stderr.write(
            "receiver.py needs the Python CloudEvents SDK: pip install cloudevents\n"
        )
        sys.exit(3)

    def parse(headers, body):
        return from_http_v1(headers, body)

    def attributes(event):
        get = event.get_attributes().get
        return {
            "specversion": get("specversion"),
            "type": get("type"),
            "source": get("source"),
            "subject": get("subject"),
            "id": get("id"),
            "time": get("time"),
            "datacontenttype": get("datacontenttype"),
            "data": event.get_data(),
        }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fail", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--answer", action="append", default=[])
    args = parser.parse_args()
    answers = {}
    for answer in args.answer:
        event_id, status = answer.rsplit("=", 1)
        answers[event_id] = int(status)
    out = open(args.out, "a", encoding="utf-8")
    refused = open(args.out + ".refused", "a", encoding="utf-8")
    state = {"to_fail": args.fail}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                fail = state["to_fail"] > 0
                if fail:
                    state["to_fail"] -= 1
            headers = {k: v for k, v in self.headers.items()}
            try:
                event = parse(headers, body)
            except Exception as e:  # the SDK refused it: tell the sender, for good
                return self.answer(400, str(e).encode())
            got = attributes(event)
            status = answers.get(got["id"])
            if status is not None:
                with lock:
                    refused.write(json.dumps({"id": got["id"], "status": status}) + "\n")
                    refused.flush()
                return self.answer(status, b"refused")
            if fail:
                with lock:
                    refused.write(json.dumps({"id": got["id"]}) + "\n")
                    refused.flush()
                return self.answer(503, b"try again")
            time = got["time"]
            if time is not None and not isinstance(time, str):
                got["time_unix"] = int(time.timestamp())
                got["time"] = time.isoformat()
            data = got["data"]
            if isinstance(data, (bytes, bytearray)):
                got["data"] = json.loads(data)
            got["mode"] = (
                "binary"
                if any(k.lower().startswith("ce-") for k in headers)
                else "structured"
            )
            with lock:
                out.write(json.dumps(got) + "\n")
                out.flush()
            if args.delay:
                sleep(args.delay)
            self.answer(200, b"")

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    # One thread per connection: a client may open a new connection before its previous
    # one is idle, and a single-threaded server would wait on the old one.
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
