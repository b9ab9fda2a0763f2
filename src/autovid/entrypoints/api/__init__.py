"""The HTTP API (FastAPI): ``create_app(container)``; served by uvicorn embedded, Mangum on AWS."""

from autovid.entrypoints.api.app import create_app, default_authenticator

__all__ = ["create_app", "default_authenticator"]
