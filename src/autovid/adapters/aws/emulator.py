"""A local AWS endpoint for development and tests: moto in server mode, with autovid's resources.

``python -m autovid.adapters.aws.emulator`` starts moto on 127.0.0.1, creates the bucket, the jobs
queue (with its dead-letter queue) and the jobs table, prints the environment variables that
point autovid at them, and serves until interrupted. moto is a development dependency
(``pip install -e '.[dev]'``); it is imported only here.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import threading
from dataclasses import dataclass
from typing import Any

import boto3

from autovid.adapters.aws.clients import AwsClients, make_clients
from autovid.adapters.aws.provision import Resources, provision
from autovid.config import Settings

DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"  # moto accepts any credentials


@dataclass
class Emulator:
    endpoint_url: str
    region: str
    server: Any

    def session(self) -> boto3.session.Session:
        """A boto3 session with dummy credentials (moto checks none)."""
        return boto3.session.Session(
            aws_access_key_id=DUMMY_ACCESS_KEY_ID,
            aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
            region_name=self.region,
        )

    def clients(self) -> AwsClients:
        settings = Settings(
            AUTOVID_BACKEND="embedded", AUTOVID_AWS_ENDPOINT_URL=self.endpoint_url, APP_AWS_REGION=self.region
        )
        return make_clients(settings, session=self.session())

    def stop(self) -> None:
        self.server.stop()


class _OneDynamoRequestAtATime:
    """WSGI middleware: DynamoDB requests are served one at a time. moto applies simultaneous
    conditional writes without isolation (two UpdateItems can both pass one condition), where
    DynamoDB applies each atomically, as the stores rely on; its other services run in parallel
    (an SQS long poll must not hold up the rest)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


def _isolating_server(host: str, port: int) -> Any:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = _OneDynamoRequestAtATime(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True)
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address=host, port=port, verbose=False)


def start(*, host: str = "127.0.0.1", port: int = 0, region: str = "us-east-1") -> Emulator:
    """Start moto in a thread; ``port=0`` picks a free port."""
    server = _isolating_server(host, port)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return Emulator(f"http://{bound_host}:{bound_port}", region, server)


def environment(emulator: Emulator, resources: Resources) -> dict[str, str]:
    return {
        "AUTOVID_BACKEND": "aws",
        "AUTOVID_AWS_ENDPOINT_URL": emulator.endpoint_url,
        "APP_AWS_REGION": emulator.region,
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
        **resources.environment(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--bucket", default="autovid-local")
    parser.add_argument("--queue", default="autovid-jobs")
    parser.add_argument("--table", default="autovid-jobs")
    parser.add_argument("--max-receives", type=int, default=3)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
    emulator = start(port=args.port, region=args.region)
    resources = provision(
        emulator.clients(),
        bucket=args.bucket,
        queue=args.queue,
        table=args.table,
        region=args.region,
        max_receives=args.max_receives,
    )
    print(f"# moto is serving at {emulator.endpoint_url}; paste these into your shell:")
    for name, value in environment(emulator, resources).items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"export AUTOVID_MAX_RECEIVES={args.max_receives}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
