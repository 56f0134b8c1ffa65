#!/usr/bin/env python3
"""A Switchboard webhook receiver in Python, standard library only but for the
Standard Webhooks library that checks the signature (docs/integrations.md).

    pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... python3 webhook-receiver.py      # PORT (default 8000), HOST (default 127.0.0.1)

Every verified event is printed as one JSON line; an agent's reply is where a
WhatsApp gateway would send it on to the customer's phone.
"""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["WEBHOOK_SECRET"])
seen = set()  # webhook-ids already handled: a retry repeats one (keep them in your database)


def handle(event_id, event):
    data = event["data"]
    line = {"id": event_id, "type": event["type"], "session": data["session"]["id"]}
    message = data.get("message")
    if event["type"] == "message.created" and message["sender"]["role"] in ("agent", "admin"):
        # The agent answered: send message["content"] to the customer's phone here.
        line["reply"] = {"to": data["session"]["customer"]["id"], "text": message["content"]}
    print(json.dumps(line), flush=True)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            event = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError as err:
            print(json.dumps({"rejected": str(err)}), flush=True)
            self.send_response(400)
            self.end_headers()
            return
        event_id = self.headers["webhook-id"]
        if event_id not in seen:
            seen.add(event_id)
            handle(event_id, event)
        self.send_response(204)  # any 2xx within 10 s: delivered
        self.end_headers()

    def log_message(self, *args):
        pass  # one JSON line per event is enough


server = ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))), Receiver)
print(f"listening on http://{server.server_address[0]}:{server.server_address[1]}", flush=True)
server.serve_forever()
