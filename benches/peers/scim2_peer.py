"""Serve scim2-server (PyPI) from memory with gunicorn, for the benchmarks.

Usage: python scim2_peer.py PORT
(named scim2_peer.py, not scim2_server.py, so as not to shadow the package)

Same application as the package's own ``scim2-server`` command (default RFC
7643 schemas, User and Group resource types, InMemoryStorage, every feature of
the default ServiceProviderConfig), but served by gunicorn instead of that
command's wsgiref server, which speaks HTTP/1.0 only (a new TCP connection for
every request).

gunicorn runs ONE worker process (the storage lives in its memory, so more
workers would each hold a different store) with a pool of threads (gthread
worker). InMemoryStorage serializes every operation with one lock, and the GIL
serializes the rest: expect about one core of throughput.

Environment:
  SCIM2_BENCH_THREADS  threads of the worker (default 4)
  SCIM2_BENCH_TOKEN    if set, require "Authorization: Bearer <token>";
                       unset (default): accept every request
  SCIM2_BENCH_PREFIX   URL prefix, default "/scim" -> base URL /scim/v2
"""

import logging
import os
import sys

from gunicorn.app.base import BaseApplication
from scim2_models import ScimProvider

from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.utils import load_default_resource_types
from scim2_server.utils import load_default_schemas
from scim2_server.utils import load_default_service_provider_config


def make_app(token: str | None):
    """The WSGI application of the ``scim2-server`` command, without tenants."""
    config = load_default_service_provider_config()
    if token:
        config.authentication_schemes = [
            *(config.authentication_schemes or []),
            BEARER_TOKEN_SCHEME,
        ]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=config,
    )
    service = ScimService(provider, secret=os.environ.get("SCIM2_SERVER_SECRET"))
    return BearerTokenApplication(
        InMemoryStorage(),
        provider,
        service=service,
        bearer_tokens=[token] if token else [],
    )


def with_content_length(app):
    """Add Content-Length to the responses of ``app``, whose bodies are one
    bytes string in a list: without it gunicorn sends them chunked."""

    def wrapped(environ, start_response):
        captured = []
        body = app(environ, lambda status, headers, exc_info=None: captured.append((status, headers, exc_info)))
        status, headers, exc_info = captured[0]
        if (
            isinstance(body, list)
            and not status.startswith(("1", "204", "304"))
            and not any(k.lower() == "content-length" for k, _ in headers)
        ):
            headers = [*headers, ("Content-Length", str(sum(map(len, body))))]
        start_response(status, headers, exc_info)
        return body

    return wrapped


def mount(app, prefix: str):
    """Serve ``app`` under ``prefix`` (sets SCRIPT_NAME, so that the
    Location headers and meta.location carry it); 404 anywhere else."""
    if not prefix:
        return app

    def mounted(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == prefix or path.startswith(prefix + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path[len(prefix):]
            return app(environ, start_response)
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]

    return mounted


class Server(BaseApplication):
    def __init__(self, app, options):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: scim2_peer.py PORT")
    port = int(sys.argv[1])
    threads = int(os.environ.get("SCIM2_BENCH_THREADS", "4"))
    prefix = os.environ.get("SCIM2_BENCH_PREFIX", "/scim").rstrip("/")
    token = os.environ.get("SCIM2_BENCH_TOKEN") or None

    # scim2_server logs every 4xx at INFO; keep the benchmark quiet.
    logging.basicConfig(level=logging.WARNING)
    print(
        f"scim2-server on http://127.0.0.1:{port}{prefix}/v2 "
        f"(gunicorn, 1 worker process, {threads} threads, "
        f"auth: {'bearer' if token else 'none'})",
        flush=True,
    )
    Server(
        mount(with_content_length(make_app(token)), prefix),
        {
            "bind": f"127.0.0.1:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "keepalive": 75,  # default 2 s would drop idle pooled connections
            "backlog": 1024,
            "graceful_timeout": 2,  # SIGTERM: stop within 2 s
            "loglevel": "warning",
            "accesslog": None,
        },
    ).run()


if __name__ == "__main__":
    main()
