#!/usr/bin/env python3
"""A producer's page that embeds Courier's consumer portal for one customer.

Each time a customer opens the page, the producer's server asks Courier for a fresh one-time
portal link for that customer's application (with an application-scoped key or an admin key,
which never leaves the server) and puts the link in an iframe. Courier must list this page's
origin in COURIER_PORTAL_ORIGINS, or the browser refuses to show the portal in the frame.

    COURIER_URL=http://127.0.0.1:8000 COURIER_API_KEY=ck_... PORTAL_APPLICATION=acme \
        python3 ops/portal-embed/server.py --port 8080

Environment: COURIER_URL (Courier as this server reaches it), COURIER_API_KEY (the key that
makes links), PORTAL_APPLICATION (the application's id or uid; in a real product, the signed-in
customer's), PORTAL_TTL (default 1h), PORTAL_READ_ONLY (true/false, default false),
PORTAL_TITLE (the page's heading). Standard library only.
"""
import argparse
import html
import json
import os
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <style>
    body {{ margin: 0; font-family: system-ui, sans-serif; background: #f3f4f6; }}
    header {{ padding: 1rem 1.5rem; background: #111827; color: #fff; }}
    main {{ padding: 1.5rem; }}
    iframe {{ width: 100%; height: 80vh; border: 1px solid #d1d5db; border-radius: 8px; background: #fff; }}
  </style>
</head>
<body>
  <header><strong>{title}</strong> &middot; Settings &rsaquo; Webhooks</header>
  <main>
    <iframe id="courier-portal" title="Webhook portal" src="{src}"></iframe>
  </main>
</body>
</html>
"""


def portal_link(courier: str, key: str, app: str, ttl: str, read_only: bool) -> str:
    """Asks Courier for a one-time portal link; returns its URL."""
    body = json.dumps({"ttl": ttl, "read_only": read_only}).encode()
    req = urllib.request.Request(
        f"{courier}/applications/{urllib.request.quote(app, safe='')}/portal-links",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)["url"]


class Handler(BaseHTTPRequestHandler):
    config: dict = {}

    def do_GET(self):
        if self.path not in ("/", "/index.html"):
            self.send_error(404)
            return
        c = self.config
        try:
            src = portal_link(c["courier"], c["key"], c["app"], c["ttl"], c["read_only"])
        except (urllib.error.URLError, KeyError, ValueError) as e:
            self.send_error(502, f"could not make a portal link: {e}")
            return
        page = PAGE.format(title=html.escape(c["title"]), src=html.escape(src, quote=True)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        # The page holds a one-time link: never cache it, never send it on as a referrer.
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    key = os.environ.get("COURIER_API_KEY")
    app = os.environ.get("PORTAL_APPLICATION")
    if not key or not app:
        print("set COURIER_API_KEY and PORTAL_APPLICATION", file=sys.stderr)
        return 2
    Handler.config = {
        "courier": os.environ.get("COURIER_URL", "http://127.0.0.1:8000").rstrip("/"),
        "key": key,
        "app": app,
        "ttl": os.environ.get("PORTAL_TTL", "1h"),
        "read_only": os.environ.get("PORTAL_READ_ONLY", "false").lower() == "true",
        "title": os.environ.get("PORTAL_TITLE", "Your account"),
    }
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
