#!/usr/bin/env python3
"""test/alerts/receiver.py: a webhook receiver for the alerts suite.

Listens on 127.0.0.1 (a free port unless --port is given), answers every
POST, and appends one JSON line per POST to --out:

    {"path": "/slack", "body": "<the body, as text>", "status": 200}

The first --fail-first K requests are answered HTTP 500 (and logged with
that status); all later ones 200.  --delay SECONDS holds every answer back
that long (a slow webhook).  Once listening, the port is written to
--port-file (atomically, through a rename), so a caller can wait for it.
Stops on SIGTERM or SIGINT.  Python standard library only.
"""

import argparse
import http.server
import json
import os
import signal
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="file the POSTs are appended to")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--port-file", help="where to write the port once listening")
    parser.add_argument("--fail-first", type=int, default=0, metavar="K",
                        help="answer HTTP 500 to the first K requests")
    parser.add_argument("--delay", type=float, default=0, metavar="SECONDS",
                        help="wait this long before answering each request")
    args = parser.parse_args()

    state = {"seen": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            state["seen"] += 1
            status = 500 if state["seen"] <= args.fail_first else 200
            record = {
                "path": self.path,
                "body": body.decode("utf-8", errors="replace"),
                "status": status,
                "content_type": self.headers.get("Content-Type"),
            }
            # Logged before answering: once the sender sees the answer, the
            # line is in the file.
            with open(args.out, "a", encoding="utf-8") as out:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
            if args.delay > 0:
                time.sleep(args.delay)
            reply = b"failing on purpose\n" if status == 500 else b"ok\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format, *args):  # noqa: A002 - quiet
            pass

    server = http.server.HTTPServer(("127.0.0.1", args.port), Handler)

    def stop(signo, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
