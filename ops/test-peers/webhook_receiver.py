#!/usr/bin/env python3
"""A webhook endpoint for tests: records every POST body as one JSON line.

Usage: webhook_receiver.py LOG_FILE [FAIL_FIRST]
Binds 127.0.0.1 on a free port (printed as "PORT <n>" once listening), appends each request's
JSON body to LOG_FILE, and answers HTTP 500 to the first FAIL_FIRST requests (default 0), 200
afterwards, so a test sees the sender's retries.
"""
import http.server
import json
import sys
import threading

log_file = sys.argv[1]
fail_first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
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
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
