#!/usr/bin/env python3
"""A webhook endpoint for tests: records every POST body as one JSON line.

Usage: webhook_receiver.py PORT_FILE LOG_FILE [FAIL_FIRST]
Binds 127.0.0.1 on a free port (written to PORT_FILE once listening), appends each request's
JSON body to LOG_FILE, and answers HTTP 500 to the first FAIL_FIRST requests (default 0), 200
afterwards, so a test sees the sender's retries.
"""
import http.server
import json
import os
import sys
import threading

port_file, log_file = sys.argv[1], sys.argv[2]
fail_first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
lock = threading.Lock()
received = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global received
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            received += 1
            failing = received <= fail_first
            with open(log_file, "a", encoding="utf-8") as log:
                log.write(json.dumps({"status": 500 if failing else 200, "body": json.loads(body)}) + "\n")
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w", encoding="utf-8") as out:
    out.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
