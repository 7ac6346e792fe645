"""Run an ASGI app with uvicorn on a background thread (the sandbox and the listener share it)."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import http.client
import inspect
import os
import socket
import ssl
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Self

from .._caller import outside
from ..errors import ServerStartError, ServerStopped, SettingsChanged
from .hosts import HostPolicy, guarded

if TYPE_CHECKING:
    import asyncio

    import uvicorn

__all__ = ["BackgroundServer", "Reruns", "ServerState", "ServerThread"]


HEADER_TIMEOUT = 10.0  # seconds a request's headers may take to arrive (`_header_timeout_protocol`)


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

    graceful_timeout: int = 2
    """Seconds `stop()` lets requests under way finish (uvicorn's `timeout_graceful_shutdown`)."""

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
        allowed_hosts: Iterable[str] = (),
        header_timeout: float = HEADER_TIMEOUT,
    ):
        self.header_timeout = header_timeout
        """Seconds a request's headers may take to arrive, from the connection (or the request's first byte)."""
        self.hosts = HostPolicy(host, allowed_hosts)
        """The `Host` names and origins it answers to (`qodlab._net.hosts`: Jupyter Server's checks)."""
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
        sock = self._sock
        if sock is None:
            return self._requested_port
        try:
            return int(sock.getsockname()[1])
        except OSError:  # closed by stop() on another thread meanwhile: the port it comes back on
            return self._requested_port

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
            guarded(self.app, self.hosts),  # every server: Jupyter Server's Host and Origin checks
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=self.graceful_timeout,
            interface="asgi3",
            http=_header_timeout_protocol(self.header_timeout),
            proxy_headers=False,  # loopback servers behind no proxy: skip the middleware on every request
            server_header=False,
            ssl_certfile=self.certfile,
            ssl_keyfile=self.keyfile,
        )
        self._server = _server_class()(config)
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
        sock, self._sock = self._sock, None  # first: `port` (read by other threads) answers the port it comes back on
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


@functools.cache
def _header_timeout_protocol(seconds: float) -> Any:
    """uvicorn's httptools protocol, closing a connection whose request headers take over `seconds` to arrive.

    uvicorn has a keep-alive timeout but none for reading headers, so a client that opens connections and
    sends a byte now and then (slowloris) holds them for ever; Jupyter Server's tornado has `idle_connection_timeout`.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._header_timer is None:  # the next request on a kept-alive connection
                self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._header_timer = self.loop.call_later(seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol


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
        busy = exc.errno == errno.EADDRINUSE
        hint = " (another server has it: choose another port, or 0 for a free one)" if busy else ""
        msg = f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}"
        raise ServerStartError(msg) from None
    sock.set_inheritable(True)
    return sock


class Reruns:
    """The running servers of one class by where each was written: how a cell run again finds the one it started.

    A notebook's cell runs again (edited, or all cells from the top) while the server it made before
    still serves and holds its port, though the cell's name now refers to a new object. So every
    construction is placed at its site (`site()`: in a kernel the cell and which construction of the
    class it is in that run of the cell; elsewhere the file and line), and `at(site)` answers the
    server running there, if any: the new object stops that one when it starts, and takes its port
    (`BackgroundServer` lists the cases). A server is entered here when it starts and leaves when it
    stops. Each subclass of BackgroundServer has its own (`Sandbox._reruns`, `Listener._reruns`).
    """

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self._lock = threading.Lock()
        self._running: dict[tuple[Any, ...], BackgroundServer] = {}  # site -> the running one written there
        self._counts: dict[str, tuple[str, int]] = {}  # cell -> (the cell's run, constructions of cls in it)

    def __repr__(self) -> str:
        return f"<Reruns of {self.cls.__name__}: {len(self._running)} running>"

    def site(self) -> tuple[Any, ...]:
        """Where the construction under way is written: the first frame outside qodlab."""
        frame = outside()[0]
        run = _cell_run(frame)
        if run is None:
            return (frame.f_code.co_filename, frame.f_lineno)
        request, cell = run
        previous = self._counts.get(cell)
        count = previous[1] + 1 if previous is not None and previous[0] == request else 1
        self._counts[cell] = (request, count)
        return ("cell", cell, count)

    def at(self, site: tuple[Any, ...]) -> Any:
        """The running server written at `site` (this cell or line, run before), or None."""
        with self._lock:
            found = self._running.get(site)
        return found if found is not None and found.running else None

    def running(self) -> list[Any]:
        """Every server of the class started at a site and not stopped since."""
        with self._lock:
            return list(self._running.values())

    def started(self, server: BackgroundServer) -> None:
        """`server` serves now: a later construction at its site replaces it."""
        with self._lock:
            if server._site is not None:
                self._running[server._site] = server

    def stopped(self, server: BackgroundServer) -> None:
        """`server` stopped: its site is free (unless another took it meanwhile)."""
        with self._lock:
            if server._site is not None and self._running.get(server._site) is server:
                del self._running[server._site]


class BackgroundServer:
    """A server on a ServerThread, with the notebook conventions the sandbox, listener and relay share.

    Every construction is first turned into a settings record (`settings`: a frozen dataclass whose
    fields are the parameters of the subclass's `__init__`, all of them but `reuse`, built from its
    signature), and placed where it is written (its site): in a kernel, the cell (JupyterLab's cell
    id, else the cell's text) and which construction of that class it is in the cell's run; elsewhere
    the file and line (`Reruns`, one per subclass as `_reruns`, holds the running ones by site).
    Re-running a cell is one thing, a second object written elsewhere another:

    - a construction at the site of a running one (the cell or line run again) starts afresh in its
      place, as the first run did: the running one is stopped and the new one takes its port, so its
      URL stays; a changed setting is named in a `SettingsChanged` warning. A running one inside an
      open `with` block is never stopped that way: the new one starts beside it.
    - a construction written elsewhere (another line, another cell) starts another one beside it, on
      a port of its own: two sandboxes, or two listeners with two logs, coexist.
    - `reuse=False` always starts a new one beside the others, which no later construction replaces.

    `stop()` frees the port; `start()` comes back on the same port; as a context manager it stops
    on exit. Every other method of a stopped one raises ServerStopped, naming what replaced it, if
    anything (the sandbox's `metrics()` on a dead engine would answer as if nothing happened).
    """

    _reruns: ClassVar[Reruns]
    """The running ones of this class by where each was written (a re-run cell finds its own there)."""
    _signature: ClassVar[inspect.Signature]
    Settings: ClassVar[type]
    """The settings record's class: one field per `__init__` parameter but `reuse`."""
    _secret: ClassVar[frozenset[str]] = frozenset()
    """Settings never shown (a key, a token): a change is named, its value never."""
    _held: ClassVar[str] = "its state"
    """What a restart loses, in words."""
    _usable_stopped: ClassVar[frozenset[str]] = frozenset({"start", "stop"})
    """Public methods a stopped one still answers (the rest raise ServerStopped)."""
    _server: ServerThread
    _site: tuple[Any, ...] | None  # where it was written (None: reuse=False, or started beside a `with`'s)
    _withs: int  # open `with` blocks
    _replacing: tuple[BackgroundServer, dict[str, tuple[Any, Any]]] | None  # what start() stops first, and why
    _replaced_by: BackgroundServer | None  # the one started in its place
    _predecessor: BackgroundServer | None  # the one it replaced (kept for the errors it explains; one, not a chain)
    settings: Any
    """What it was started with (its settings record); secrets are left out of its repr."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._reruns = Reruns(cls)
        cls._signature = inspect.signature(cls.__init__)
        names = [name for name in cls._signature.parameters if name not in _NOT_SETTINGS]
        fields = [(name, Any, dataclasses.field(repr=name not in cls._secret)) for name in names]
        cls.Settings = dataclasses.make_dataclass(f"{cls.__name__}Settings", fields, frozen=True)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(value) and name not in cls._usable_stopped:
                setattr(cls, name, _refused_when_stopped(value))

    @classmethod
    def settings_for(cls, *args: Any, **kwargs: Any) -> Any:
        """The settings record a construction with these arguments gives (TypeError as the call would)."""
        return cls._bind(args, kwargs)[0]

    @classmethod
    def _bind(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, bool]:
        bound = cls._signature.bind(None, *args, **kwargs)  # None stands for self
        bound.apply_defaults()
        given = {name: _comparable(value) for name, value in bound.arguments.items() if name not in _NOT_SETTINGS}
        return cls.Settings(**given), bool(bound.arguments.get("reuse", True))

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        settings, reuse = cls._bind(args, kwargs)
        site = cls._reruns.site() if reuse else None
        running = cls._reruns.at(site) if site is not None else None
        instance = super().__new__(cls)
        instance.settings = settings
        instance._site = site
        instance._withs = 0
        instance._replacing = None
        instance._replaced_by = None
        instance._predecessor = None
        if running is not None:
            changed = _changes(running, settings)
            if running._withs:  # a `with` block holds it: leave it running, start beside it
                if settings.port:  # ... which cannot be on the port it holds
                    name = cls.__name__
                    msg = (
                        f"{name}(port={settings.port}): the {name} on that port has other settings"
                        f" ({_describe(changed, cls._secret) or 'the same'}) and a `with` block holds it:"
                        " stop it first, or ask for another port"
                    )
                    raise ServerStartError(msg)
                instance._site = None
            else:
                instance._replacing = (running, changed)
        return instance

    @property
    def _previous(self) -> BackgroundServer | None:
        """The running server this one replaces when it starts (its cell or line run again), if any."""
        return self._replacing[0] if self._replacing is not None else None

    def start(self) -> Self:
        """Start serving (a no-op when running; after a stop, on the same port)."""
        if self._replaced_by is not None:
            raise ServerStopped(self._stopped_message("start"))
        replacing, self._replacing = self._replacing, None
        inherited = False
        if replacing is not None:
            old = replacing[0]
            old.stop()
            old._replaced_by, old._predecessor, self._predecessor = self, None, old  # held: what it replaced explains
            if self._server._requested_port == 0:  # a free port was asked for: the old one's, so its URL stays
                self._server._requested_port, inherited = old.port, True
        try:
            self._server.start()
        except ServerStartError as exc:
            if not inherited:
                raise _held_by(self, exc) from None
            self._server._requested_port = 0  # taken meanwhile: another free port
            self._server.start()
        _alive.add(self)
        self._reruns.started(self)
        if replacing is not None:
            changes = _describe(replacing[1], self._secret)
            self._note_credentials(replacing)
            if changes:
                name = type(self).__name__
                _warn(
                    f"{name} restarted at {self._url()} with {changes}: the previous one is stopped, with"
                    f" what it held ({self._held}); a {name} written on another line starts beside it"
                )
        return self

    def _note_credentials(self, replacing: tuple[BackgroundServer, dict[str, tuple[Any, Any]]]) -> None:
        """Let a client of the previous one that now gets 401 read why (a key changed by the re-run)."""
        changed = [name for name in replacing[1] if name in self._secret]
        if changed:
            note = (
                f"the {type(self).__name__} at {self._url()} was restarted in its place with"
                f" {' and '.join(changed)} changed ({_where(self._site)} ran again): a client made for the"
                " previous one has the old one"
            )
        else:
            note = None
        from ..errors import note_replacement

        note_replacement(self._url(), note)

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._reruns.stopped(self)
        _alive.discard(self)
        self._server.stop()

    @property
    def running(self) -> bool:
        """Whether it serves requests."""
        return self._server.state is ServerState.RUNNING

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self._server.port

    @property
    def replaced_by(self) -> BackgroundServer | None:
        """The one started in its place when its cell or line ran again (None: not replaced)."""
        return self._replaced_by

    def _url(self) -> str:
        return str(getattr(self, "url", self._server.url))

    def _stopped_message(self, method: str) -> str:
        name = type(self).__name__
        new = self._replaced_by
        while new is not None and new._replaced_by is not None:  # replaced again since: the one running now
            new = new._replaced_by
        if new is not None:
            return (
                f"{name}.{method}(): this {name} was stopped and replaced by {new!r} when {_where(self._site)}"
                f" ran again; use that one (the name the cell assigns now refers to it)"
            )
        return f"{name}.{method}(): this {name} ({self._url()}) is stopped; start() serves again on the same port"

    def __enter__(self) -> Self:
        self._withs += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._withs = max(0, self._withs - 1)
        self.stop()


_alive: weakref.WeakSet[BackgroundServer] = weakref.WeakSet()  # every running one, of every class


def _refused_when_stopped(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method`, raising ServerStopped when its server is stopped (with what replaced it)."""

    @functools.wraps(method)
    def checked(self: BackgroundServer, *args: Any, **kwargs: Any) -> Any:
        if self._server.state is ServerState.STOPPED:
            raise ServerStopped(self._stopped_message(method.__name__))
        return method(self, *args, **kwargs)

    return checked


def _held_by(server: BackgroundServer, exc: ServerStartError) -> ServerStartError:
    """A bind failure, naming the server of this process that holds the port, if one does."""
    port = server._server._requested_port
    holder = next((s for s in list(_alive) if s is not server and s.running and s.port == port), None)
    if holder is None or not port:
        return exc
    name = type(holder).__name__
    return ServerStartError(
        f"{exc}: the {name} started at {_where(holder._site)} serves there ({holder._url()});"
        f" stop it first (.stop()), or ask for another port (0: a free one)"
    )


def _cell_run(frame: Any) -> tuple[str, str] | None:
    """(the execute request, the cell: its id, else its code's name) for a cell's top level in a kernel; else None."""
    if frame.f_code.co_name != "<module>":
        return None
    app = sys.modules.get("ipykernel.kernelapp")
    if app is None or not app.IPKernelApp.initialized():
        return None
    try:
        parent = app.IPKernelApp.instance().kernel.get_parent("shell")
    except Exception:  # an ipykernel without get_parent(channel): placed by file and line
        return None
    request = (parent or {}).get("header", {}).get("msg_id")
    if not request:
        return None
    cell_id = (parent.get("metadata") or {}).get("cellId")
    return str(request), str(cell_id or frame.f_code.co_filename)


def _where(site: tuple[Any, ...] | None) -> str:
    """A site in words: `line 3 of notebook.py`, `its cell`."""
    if site is None:
        return "its construction"
    if site[0] == "cell":
        return "its cell" if site[2] == 1 else f"its cell (construction {site[2]} there)"
    return f"line {site[1]} of {os.path.basename(str(site[0]))}"


_NOT_SETTINGS = ("self", "reuse")


def _comparable(value: Any) -> Any:
    """A setting as compared: a list is its tuple, a set its frozenset, a path its string."""
    if isinstance(value, list):
        return tuple(_comparable(v) for v in value)
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _address(settings: Any) -> tuple[Any, ...]:
    """Where a server is reused or replaced: host and port as given (port 0: "a free port")."""
    return (getattr(settings, "host", None), getattr(settings, "port", None))


def _changes(running: BackgroundServer, settings: Any) -> dict[str, tuple[Any, Any]]:
    """The settings that differ from what the running server has: name, (old, new)."""
    changed = {}
    for field in dataclasses.fields(settings):
        new = getattr(settings, field.name)
        old = getattr(running.settings, field.name)
        if not _same(old, new):
            changed[field.name] = (old, new)
    return changed


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except Exception:  # a value whose == is not a bool (an array): only itself is the same
        return False


def _describe(changed: dict[str, tuple[Any, Any]], secret: frozenset[str]) -> str:
    """`seed=7 (was 0), api_key changed`: what changed, never a secret's value."""
    return ", ".join(_change(name, old, new, secret) for name, (old, new) in changed.items())


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _change(name: str, old: Any, new: Any, secret: frozenset[str]) -> str:
    if name in secret:
        return f"{name} changed"
    if getattr(type(new), "__eq__", None) is object.__eq__:  # told apart by identity only (an EventLog): another object
        return f"another {name} ({_short(new)}, was {_short(old)})"
    return f"{name}={_short(new)} (was {_short(old)})"


def _warn(message: str, category: type[Warning] = SettingsChanged) -> None:
    """A warning (SettingsChanged by default), attributed to the first caller outside qodlab (the notebook's cell).

    Shown every time, not once per line as `warnings.warn` would: ipykernel names a cell's code after
    its text, so the second run of the same cell would otherwise say nothing (a filter still rules).
    """
    frame = outside()[0]
    # No module_globals: a loader without sources (a script on stdin's BuiltinImporter) would raise.
    # A module name, never None: the C warn_explicit drops a warning whose module is None (code run
    # by exec() in a namespace without __name__, as Sybil runs the README's blocks).
    module = frame.f_globals.get("__name__") or "__main__"
    warnings.warn_explicit(message, category, frame.f_code.co_filename, frame.f_lineno, module, registry=None)


@functools.cache
def _server_class() -> type[uvicorn.Server]:
    """uvicorn's Server, ending at once the idle TLS connections its shutdown closed.

    On stop uvicorn closes each idle keep-alive connection; over TLS that close waits for the client's
    close_notify, which an idle client (httpx's pool, a browser tab) never sends, so every HTTPS stop
    took the whole graceful timeout (2 s) and logged "Cancel 0 running task(s)". A connection still
    busy with a response is left to finish, as uvicorn does.
    """
    import uvicorn

    class _Server(uvicorn.Server):
        async def _wait_tasks_to_complete(self) -> None:
            if self.config.is_ssl:
                for connection in list(self.server_state.connections):
                    transport = getattr(connection, "transport", None)
                    if transport is not None and transport.is_closing():
                        transport.abort()
            await super()._wait_tasks_to_complete()

    return _Server
