"""API Gateway (REST API, proxy integration) -> the same FastAPI app as ``autovid serve``.

API Gateway has already checked the ``X-API-Key`` and its usage plan; the app's
``ApiGatewayAuthenticator`` takes the caller's id from ``requestContext.identity.apiKeyId``.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from autovid.entrypoints.api.app import create_app
from autovid.entrypoints.lambdas import container, logger


@functools.cache
def asgi_adapter() -> Mangum:
    return Mangum(create_app(container()), lifespan="off")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response: dict[str, Any] = asgi_adapter()(event, context)
    return response
