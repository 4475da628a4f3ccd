#!/usr/bin/env python3
"""A webhook receiver for trying Hookline locally: prints each request and checks its
signatures (standard library only).

    python3 local/receiver.py [PORT] [SECRET]

With SECRET (the webhook's secret from the create answer), it verifies the
x-hookline-webhook-hmac header and the Standard Webhooks webhook-signature header.
"""
import base64
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
SECRET = sys.argv[2] if len(sys.argv) > 2 else None
TOLERANCE_SECONDS = 5 * 60


def standard_key(secret):
    """whsec_ secrets sign with their base64-decoded bytes; other secrets with their UTF-8 bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_"):], validate=True)
        except ValueError:
            pass
    return secret.encode()


def verify(headers, body, secret):
    # 1. Hookline's hex HMAC of the exact body, keyed with the secret as given.
    expected_hmac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    hmac_ok = hmac.compare_digest(expected_hmac, headers.get("x-hookline-webhook-hmac", ""))
    # 2. Standard Webhooks: base64 HMAC of "id.timestamp.body"; any listed v1 signature may match.
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "0")
    fresh = abs(time.time() - int(timestamp)) <= TOLERANCE_SECONDS
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(standard_key(secret), signed, hashlib.sha256).digest()).decode()
    candidates = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")]
    standard_ok = fresh and any(hmac.compare_digest(expected, c) for c in candidates)
    return hmac_ok, standard_ok


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        print(f"--- POST {self.path}")
        for name in sorted(headers):
            print(f"{name}: {headers[name]}")
        try:
            print(json.dumps(json.loads(body), indent=2))
        except ValueError:
            print(body.decode(errors="replace"))
        if SECRET:
            hmac_ok, standard_ok = verify(headers, body, SECRET)
            print(f"x-hookline-webhook-hmac valid: {hmac_ok}; webhook-signature valid: {standard_ok}")
        sys.stdout.flush()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    print(f"receiving on http://127.0.0.1:{PORT}/ (Ctrl-C stops)")
    HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
