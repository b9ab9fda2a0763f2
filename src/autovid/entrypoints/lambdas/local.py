"""Run the two Lambdas on this machine, as ``sam local`` would, against an emulator (development).

``python -m autovid.entrypoints.lambdas.local`` serves HTTP on 127.0.0.1 and turns each request
into an API Gateway (REST, v1 proxy) event for ``api.handler``, and polls the SQS queue like the
event source mapping (batch size 1, partial batch responses) to feed ``processor.handler``. It
reads the same settings as the functions (``AUTOVID_BACKEND=aws``, the resource names, and
``AUTOVID_AWS_ENDPOINT_URL`` for moto; see ``autovid.adapters.aws.emulator``).

API Gateway's key check is imitated loosely: any ``X-API-Key`` is accepted and becomes the owner
``local-<hash of the key>``; a missing key gets 403. There are no usage plans.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

OPEN_PATHS = ("/health",)  # routes deployed without ApiKeyRequired
FUNCTION_TIMEOUT_S = 900.0


@dataclass
class LocalContext:
    """The parts of the Lambda context the handlers read."""

    function_name: str = "autovid-local"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:autovid-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline_s: float = field(default_factory=lambda: time.monotonic() + FUNCTION_TIMEOUT_S)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_s - time.monotonic()) * 1000))


def key_id(api_key: str) -> str:
    """A stable stand-in for API Gateway's id of a key (never the key itself)."""
    return "local-" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def gateway_event(
    method: str,
    path: str,
    *,
    api_key_id: str | None,
    query: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    stage: str = "local",
) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event, as API Gateway sends it after its key check."""
    headers = dict(headers or {})
    query = query or {}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "identity": {"apiKeyId": api_key_id, "sourceIp": "127.0.0.1"},
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The Lambda SQS event for messages from ``receive_message`` (with their attributes)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


# --- the API Gateway stand-in ------------------------------------------------------------------


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        from autovid.entrypoints.lambdas.api import handler

        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        api_key = self.headers.get("X-API-Key")
        if not api_key and url.path not in OPEN_PATHS:
            self._reply(403, {"Content-Type": "application/json"}, b'{"message": "Forbidden"}')
            return
        event = gateway_event(
            self.command,
            url.path,
            api_key_id=key_id(api_key) if api_key else None,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
        )
        # Mangum drives the app on the thread's event loop; Lambda's thread has one, ours not.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            response = handler(event, LocalContext())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
        payload = response.get("body") or ""
        raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        self._reply(response["statusCode"], response.get("headers") or {}, raw)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def _reply(self, status: int, headers: dict[str, str], raw: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


# --- the event source mapping stand-in ----------------------------------------------------------


def poll_queue(stop: threading.Event, *, wait_s: int = 5) -> None:
    """Receive one message at a time, invoke the processor, delete what it did not report failed."""
    from autovid.entrypoints.lambdas import container
    from autovid.entrypoints.lambdas.processor import handler

    queue = container().queue
    sqs, queue_url = queue.client, queue.queue_url  # type: ignore[attr-defined]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    region = container().settings.aws_region
    while not stop.is_set():
        received = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            continue
        response = handler(sqs_event(received, arn, region), LocalContext())
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        for message in received:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-processor", action="store_true", help="serve the API only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from autovid.entrypoints.lambdas import container

    settings = container().settings  # fails here, with the reason, when the settings are incomplete
    if settings.backend != "aws":
        raise SystemExit("set AUTOVID_BACKEND=aws and the AWS resource variables (see docs/DEPLOY.md)")
    stop = threading.Event()
    if not args.no_processor:
        threading.Thread(target=poll_queue, args=(stop,), name="sqs-poller", daemon=True).start()
    server = ThreadingHTTPServer((args.host, args.port), _GatewayHandler)
    print(
        json.dumps(
            {"api": f"http://{args.host}:{server.server_address[1]}", "processor": not args.no_processor}
        )
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()


if __name__ == "__main__":
    main()
