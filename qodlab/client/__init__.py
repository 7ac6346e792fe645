"""The request side: the QoD clients (sync and async), sessions and assignments, waiting, auth and providers.

`qodlab.client` keeps the names it had as a module: QodClient, AsyncQodClient, create_request, NAC_HOST."""

from .clients import NAC_HOST, AsyncQodClient, QodClient, create_request

__all__ = ["NAC_HOST", "AsyncQodClient", "QodClient", "create_request"]
