"""The request side: the QoD clients (sync and async), sessions and assignments, waiting, auth and providers.

`qodlab.client` keeps the names it had as a module: QodClient, AsyncQodClient, create_request."""

from .clients import AsyncQodClient, QodClient, create_request

__all__ = ["AsyncQodClient", "QodClient", "create_request"]
