"""Run an ASGI app with uvicorn on a background thread (the sandbox and the listener share it)."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import threading
import time
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Self

from .errors import ServerStartError

if TYPE_CHECKING:
    import uvicorn

__all__ = ["BackgroundServer", "ServerState", "ServerThread"]


class ServerState(Enum):
    """Where a background server is in its life."""

    NEW = 1  # built, not started
    RUNNING = 2  # serving requests
    STOPPED = 3  # stopped; its port is free


class ServerThread:
    """uvicorn serving `app` on a socket bound before the thread starts.

    Binding first means a port in use fails at once, in the caller's thread, with the port in
    the message; and port 0 gives a free port that `port` reads back. With `warm_up` (a path),
    `start()` returns only after one GET of it has gone through the whole app, so the first real
    request does not pay the app's lazy set-up: FastAPI builds its routes' state, and anyio
    imports its backend, on the first request (about 20 ms here, 2.4 sandbox seconds at speed 120).
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "qodlab-server",
        *,
        warm_up: str | None = None,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
    ):
        self.app = app
        self.host = host
        self.name = name
        self.warm_up = warm_up
        self.certfile, self.keyfile = certfile, keyfile
        self.state = ServerState.NEW
        self._requested_port = port
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._sock is None:
            return self._requested_port
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        """`http://host:port`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def tls(self) -> bool:
        """Whether it serves HTTPS (given a certificate file)."""
        return self.certfile is not None

    def start(self, timeout: float = 15.0) -> None:
        """Bind, start serving, and return once the server accepts requests."""
        if self.state is ServerState.RUNNING:
            return
        self._sock = _bind(self.host, self._requested_port)
        self._requested_port = self.port  # a restart comes back on the same port
        import uvicorn  # here, not at import: `import qodlab` stays light (a server is built when started)

        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            interface="asgi3",
            proxy_headers=False,  # loopback servers behind no proxy: skip the middleware on every request
            server_header=False,
            ssl_certfile=self.certfile,
            ssl_keyfile=self.keyfile,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                reason = repr(self._error) if self._error else "it did not become ready in time"
                msg = f"{self.name} on {self.host}:{self._requested_port} failed to start: {reason}"
                self._server.should_exit = True
                self._close_socket()
                raise ServerStartError(msg)
            self._thread.join(0.005)
        if self.warm_up is not None:
            self._get(self.warm_up, timeout)
        self.state = ServerState.RUNNING

    def _get(self, path: str, timeout: float) -> None:
        connection: http.client.HTTPConnection
        if self.tls:  # our own server on this machine, whatever CA signed its certificate
            unverified = ssl.create_default_context()
            unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
            connection = http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=unverified)
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            connection.getresponse().read()
        finally:
            connection.close()

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # recorded for start() to report
            self._error = exc

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        self._close_socket()
        self.state = ServerState.STOPPED

    def _close_socket(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None  # `port` now answers the port it will come back on


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every keep-alive response waits ~40 ms on a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        msg = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise ServerStartError(msg) from None
    sock.set_inheritable(True)
    return sock


class BackgroundServer:
    """A server on a ServerThread, with the notebook conventions the sandbox and listener share.

    Constructing one with the settings (`key`) of one already running returns the running one, so
    a re-run cell does not start a second server; `stop()` frees the port; `start()` comes back on
    the same port; it is a context manager.
    """

    _running: ClassVar[dict[tuple[Any, ...], Any]]
    _registry_lock: ClassVar[threading.Lock]
    _initialised: bool
    _server: ServerThread
    _key: tuple[Any, ...]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._running = {}
        cls._registry_lock = threading.Lock()

    @classmethod
    def _running_or_new(cls, key: tuple[Any, ...] | None) -> Self:
        """For `__new__`: the running instance with this key, or a new one (None: always new)."""
        with cls._registry_lock:
            running = cls._running.get(key) if key is not None else None
            if running is not None and running.running:
                return running  # type: ignore[no-any-return]
        instance = super().__new__(cls)
        instance._initialised = False
        return instance

    def start(self) -> Self:
        """Start serving (a no-op when running; after a stop, on the same port)."""
        self._server.start()
        with self._registry_lock:
            self._running[self._key] = self
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        with self._registry_lock:
            if self._running.get(self._key) is self:
                del self._running[self._key]
        self._server.stop()

    @property
    def running(self) -> bool:
        """Whether it serves requests."""
        return self._server.state is ServerState.RUNNING

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self._server.port

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
