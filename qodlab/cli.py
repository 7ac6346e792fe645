"""The `qodlab` command: `qodlab demo`, `qodlab sandbox`, `qodlab listen`, `qodlab relay`, `qodlab classroom`."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2, with one line on stderr, for what it cannot do)."""
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the command they were given to, with its own help (`qodlab relay --help`)
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 2
    handler: Any = args.handler
    from .errors import QodError

    if handler in (_sandbox, _listen, _classroom, _relay):  # it serves until stopped: from before it starts
        _catch_stop_signals()

    try:
        return int(handler(args))
    except (QodError, ValueError, OSError) as exc:  # a busy port, an unreachable relay, a missing file
        print(f"qodlab {args.command}: error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 2


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (and where to read more) instead of the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _positive(text: str) -> float:
    """A number above 0 (a speed: sandbox seconds per real second)."""
    try:
        value = float(text)
    except ValueError:
        msg = f"not a number: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not value > 0:
        msg = f"must be above 0, got {text} (sandbox seconds per real second: 1 is real time, 60 a minute a second)"
        raise argparse.ArgumentTypeError(msg)
    return value


def _parser() -> argparse.ArgumentParser:
    from . import __version__  # the package imports nothing heavy: --help and --version answer at once

    parser = _Parser(prog="qodlab", description="Explore network Quality on Demand.")
    parser.add_argument("--version", action="version", version=f"qodlab {__version__}")
    sub = parser.add_subparsers(dest="command")
    _demo_command(sub)
    _sandbox_command(sub)
    _listen_command(sub)
    _classroom_command(sub)
    _relay_command(sub)
    said = {action.dest: action.help for action in sub._choices_actions}  # each command's line in `qodlab --help`
    for name, command in sub.choices.items():
        command.set_defaults(parser=command)
        command.description = f"qodlab {name}: {said[name]}."  # `qodlab NAME --help` says what it does, too
        command.formatter_class = _WithDefaults
    return parser


def _demo_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add `qodlab demo`: the scripted scenario on the embedded sandbox."""
    demo = sub.add_parser("demo", help="run a scripted scenario on the embedded sandbox")
    demo.add_argument("--speed", type=_positive, default=60.0, help="sandbox seconds per real second (default 60)")
    demo.add_argument("--out", default="qodlab-demo", help="folder for the demo's files (default qodlab-demo)")
    demo.set_defaults(handler=_demo)


def _sandbox_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add `qodlab sandbox`: the QoD sandbox served until interrupted."""
    sandbox = sub.add_parser("sandbox", help="serve the QoD sandbox until interrupted")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    _allow_host_argument(sandbox)
    sandbox.add_argument("--private-sinks", action="store_true", help="deliver to sinks on private addresses too")
    sandbox.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    sandbox.add_argument("--speed", type=_positive, default=1.0, help="sandbox seconds per real second")
    sandbox.add_argument("--strict", action="store_true", help="require https sinks, as CAMARA v1.1 does")
    sandbox.add_argument("--api-key", default=None, help="require this key (Bearer or X-RapidAPI-Key)")
    sandbox.add_argument(
        "--provisioning-delay", type=float, default=1.0, help="sandbox seconds from REQUESTED to AVAILABLE"
    )
    _tls_arguments(sandbox)
    sandbox.add_argument("--cafile", default=None, help="also trust this CA when delivering to https sinks")
    sandbox.add_argument("--seed", type=int, default=0, help="seed of the simulated links' metrics (default 0)")
    sandbox.add_argument(
        "--auth", choices=["key", "oidc"], default="key", help="oidc: be an OpenID provider; requests need its tokens"
    )
    sandbox.add_argument("--token-ttl", type=float, default=3600.0, help="access tokens' life, sandbox seconds")
    sandbox.add_argument(
        "--unsupported-identifier",
        action="append",
        default=[],
        choices=["phoneNumber", "networkAccessIdentifier", "ipv4Address", "ipv6Address"],
        help="a device identifier type this network does not support (repeatable): 422 UNSUPPORTED_IDENTIFIER",
    )
    sandbox.add_argument(
        "--no-notifications",
        dest="notifications",
        action="store_false",
        help="deliver no notifications: a create with a sink is 422 EVENT_NOTIFICATIONS_NOT_SUPPORTED",
    )
    sandbox.set_defaults(handler=_sandbox)


def _listen_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add `qodlab listen`: a listener that prints each notification it receives."""
    listen = sub.add_parser("listen", help="receive QoS notifications and print each event")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    _allow_host_argument(listen)
    listen.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    listen.add_argument("--path", default="/qod", help="notification path (default /qod)")
    listen.add_argument("--token", default=None, help="bearer token to require (default: a generated one)")
    listen.add_argument("--db", default=None, help="SQLite file to keep every event in")
    listen.add_argument(
        "--relay",
        default=None,
        help="also take notifications from this relay channel URL (smee.io protocol); 'new' opens one on "
        "$QODLAB_RELAY or smee.io. Anyone with the channel URL can read what is sent to it",
    )
    listen.add_argument("--public-url", default=None, help="the URL a tunnel or proxy forwards to this listener")
    listen.add_argument("--cafile", default=None, help="trust this CA when connecting to an https relay")
    _tls_arguments(listen)
    listen.set_defaults(handler=_listen)


def _classroom_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add `qodlab classroom`: one sandbox for a whole class."""
    classroom = sub.add_parser("classroom", help="serve one sandbox for a whole class until interrupted")
    classroom.add_argument("--students", type=int, default=30, help="how many students (default 30)")
    classroom.add_argument("--names", default=None, help="a CSV file whose first column names the students")
    classroom.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0: the whole room)")
    _allow_host_argument(classroom)
    classroom.add_argument(
        "--loopback-sinks",
        action="store_true",
        default=None,
        help="let students' sinks be on this machine's loopback (default: only when served on loopback)",
    )
    classroom.add_argument("--private-sinks", action="store_true", help="let students' sinks be on private addresses")
    classroom.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    classroom.add_argument("--speed", type=_positive, default=10.0, help="sandbox seconds per real second (default 10)")
    classroom.add_argument("--rate", type=float, default=10.0, help="requests a second per key (default 10)")
    classroom.add_argument("--roster", default="roster.csv", help="where to write name,api_key (mode 0600)")
    classroom.add_argument(
        "--auth",
        choices=("key", "oidc"),
        default="key",
        help="key: an API key per student; oidc: an OAuth client per student (id and secret in the roster)",
    )
    classroom.set_defaults(handler=_classroom)


def _relay_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    """Add `qodlab relay`: a smee.io-style relay for listeners behind NAT."""
    relay = sub.add_parser(
        "relay",
        help="serve a relay until interrupted: a provider POSTs notifications to a public channel URL and "
        "listeners behind NAT follow the channel outbound (smee.io's protocol, and application/cloudevents+json)",
    )
    relay.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    _allow_host_argument(relay)
    relay.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT") or 0), help="port (default: $PORT, else a free one)"
    )
    relay.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("FORWARDED_ALLOW_IPS"),
        help="trust X-Forwarded-Proto/Host from these proxy addresses (comma-separated, '*': any) for /new",
    )
    relay.add_argument("--buffer", type=int, default=1000, help="messages each channel keeps for reconnections")
    relay.add_argument(
        "--max-bytes",
        type=_size,
        default="64MiB",
        help="bytes of messages kept in all channels together, e.g. 64MiB (default) or 500000",
    )
    relay.add_argument("--max-channels", type=int, default=1000, help="channels at most (default 1000)")
    relay.add_argument(
        "--per-address", type=int, default=100, help="new channels a client address may open an hour (default 100)"
    )
    relay.add_argument(
        "--idle", type=float, default=86400.0, help="drop a channel with no subscriber or message for this many s"
    )
    _tls_arguments(relay)
    relay.set_defaults(handler=_relay)


def _allow_host_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[name for name in os.environ.get("QODLAB_ALLOWED_HOSTS", "").split(",") if name.strip()],
        metavar="NAME",
        help="a host name it answers to besides localhost and IP addresses (repeat the option; a leading dot, "
        "as in .example.org, allows that domain and its subdomains; default: $QODLAB_ALLOWED_HOSTS, "
        "comma-separated). Requests naming another host get 403, as Jupyter Server answers them",
    )


class _WithDefaults(argparse.HelpFormatter):
    """Each option's help ends with its default, unless it already says it (or there is none to say)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, argparse.SUPPRESS) or isinstance(default, bool):  # a flag
            return text
        if not action.option_strings:
            return text
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        return f"{text} (default {shown})"


def _tls_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--certfile", default=None, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--keyfile", default=None, help="the certificate's private key (PEM), if not in --certfile")


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(speed=args.speed, out=args.out)


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox, StatusChange
    from .sandbox.clock import rfc3339

    sandbox = Sandbox(
        args.host,
        args.port,
        allowed_hosts=args.allow_host,
        private_sinks=args.private_sinks,
        speed=args.speed,
        strict=args.strict,
        api_key=args.api_key,
        provisioning_delay=args.provisioning_delay,
        certfile=args.certfile,
        keyfile=args.keyfile,
        cafile=args.cafile,
        seed=args.seed,
        auth=args.auth,
        token_ttl=args.token_ttl,
        unsupported_identifiers=args.unsupported_identifier,
        notifications=args.notifications,
    )

    def show(change: StatusChange) -> None:
        info = f" / {change.status_info.value}" if change.status_info else ""
        print(f"{rfc3339(change.time)}  {change.session_id}  {change.qos_status.value}{info}", flush=True)

    sandbox.engine.subscribe(show)
    print(f"qodlab sandbox serving {sandbox.url} (speed {sandbox.speed:g})", flush=True)
    print(f"  QoD API:      {sandbox.qod_url}", flush=True)
    print(f"  OpenAPI docs: {sandbox.url}/docs", flush=True)
    print(f"  relay:        {sandbox.relay_url}/new opens a channel", flush=True)
    print(f"  test devices: {sandbox.url}/_sandbox/test-devices", flush=True)
    if not args.notifications:
        print("  notifications: none (a create with a sink is 422 EVENT_NOTIFICATIONS_NOT_SUPPORTED)", flush=True)
    if args.api_key:
        print("  requests need the API key given with --api-key", flush=True)
    if sandbox.provider is not None:
        client = sandbox.oauth_client()
        print(f"  OpenID provider: {sandbox.issuer}/.well-known/openid-configuration", flush=True)
        # Printed once so the user can configure a client; never logged anywhere else.
        print(f"  an OAuth client: id {client.client_id}, secret {client.secret}", flush=True)
    return _serve_until_interrupted(sandbox.stop)


def _listen(args: argparse.Namespace) -> int:
    from .eventlog import EventLog
    from .notifications import StatusEvent
    from .receiving.listener import Listener

    def show(event: StatusEvent) -> None:
        info = f" / {event.status_info.value}" if event.status_info else ""
        when = event.event_time.isoformat() if event.event_time else "-"
        print(f"{when}  {event.session_id}  {event.qos_status.value}{info}  ({event.shape})", flush=True)

    log = EventLog(args.db)
    log.on_event(show)
    listener = Listener(
        log,
        allowed_hosts=args.allow_host,
        host=args.host,
        port=args.port,
        path=args.path,
        token=args.token,
        relay=True if args.relay == "new" else args.relay,
        public_url=args.public_url,
        certfile=args.certfile,
        keyfile=args.keyfile,
        cafile=args.cafile,
    )
    # Each refused request in one line (why, from where; never a token), so a forgotten sink token shows at once.
    listener.on_rejection(lambda rejection: print(rejection, flush=True))
    print(f"qodlab listener on {listener.local_url}", flush=True)
    if listener.url != listener.local_url:
        print(f"  give the network this URL: {listener.url} ({listener.how})", flush=True)
    if listener.subscription is not None:
        print("  the relay channel is public: anyone with its URL can read the notifications", flush=True)
    if listener.token_generated:
        # Printed once so the user can hand it to the provider; never logged anywhere else.
        print(f"  bearer token: {listener.token}", flush=True)
    if args.db:
        print(f"  events kept in {args.db} ({len(log)} already there)", flush=True)
    return _serve_until_interrupted(listener.stop)


def _classroom(args: argparse.Namespace) -> int:
    from .classroom import Classroom, Roster

    students = Roster.from_csv(args.names).names if args.names else args.students
    room = Classroom(
        students,
        host=args.host,
        port=args.port,
        speed=args.speed,
        rate=args.rate,
        roster=args.roster,
        auth=args.auth,
        allowed_hosts=args.allow_host,
        loopback_sinks=args.loopback_sinks,
        private_sinks=args.private_sinks,
    )
    print(f"qodlab classroom serving {room.url} for {len(room.roster.names)} students", flush=True)
    # The keys are in the roster file only (mode 0600): hand each student their line.
    columns = "name,api_key,client_id,client_secret" if args.auth == "oidc" else "name,api_key"
    print(f"  roster ({columns}): {room.roster_path}", flush=True)
    if args.auth == "oidc":
        print(f"  OpenID issuer: {room.url} (students get tokens at {room.url}/oauth2/token)", flush=True)
    print(f"  instructor: GET {room.url}/_classroom/overview, POST {room.url}/_classroom/events", flush=True)
    print(f"  live view: qodlab.classroom_view({room.url!r}, <instructor key>), or in Voila with", flush=True)
    print(
        f"    QODLAB_CLASSROOM={room.url} and QODLAB_INSTRUCTOR_KEY set: one cell, qodlab.classroom_view()", flush=True
    )
    return _serve_until_interrupted(room.stop)


def _relay(args: argparse.Namespace) -> int:
    from .relay import Relay

    relay = Relay(
        args.host,
        args.port,
        allowed_hosts=args.allow_host,
        buffer=args.buffer,
        max_bytes=args.max_bytes,
        max_channels=args.max_channels,
        per_address=args.per_address,
        idle=args.idle,
        certfile=args.certfile,
        keyfile=args.keyfile,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    print(f"qodlab relay serving {relay.url}", flush=True)
    limits = f"{args.max_bytes / 2**20:g} MiB of messages, {args.max_channels} channels, idle ones dropped after"
    print(f"  limits: {limits} {args.idle:g} s", flush=True)
    print(f"  a new channel: GET {relay.url}/new (or any unguessable name, e.g. {relay.new_channel()})", flush=True)
    return _serve_until_interrupted(relay.stop)


def _size(text: str) -> int:
    """A size in bytes: a number, or with a unit (KiB, MiB, GiB; K, M, G)."""
    units = {"kib": 2**10, "mib": 2**20, "gib": 2**30, "k": 2**10, "m": 2**20, "g": 2**30, "b": 1}
    number = text.strip().lower()
    unit = next((u for u in units if number.endswith(u)), "b" if number.endswith("b") else "")
    try:
        value = float(number[: len(number) - len(unit)] if unit else number) * units.get(unit, 1)
    except ValueError:
        msg = f"not a size: {text!r} (e.g. 64MiB)"
        raise argparse.ArgumentTypeError(msg) from None
    return int(value)


_stop_asked = threading.Event()


def _catch_stop_signals() -> None:
    """Ctrl-C and SIGTERM stop a serving command, as they stop uvicorn; caught from before its servers start,
    so that one sent as its banner shows is not lost (it stops once serving). SIGINT too is handled here:
    Python leaves it ignored when the parent did (a job started with `&` from a script, a CI runner), and
    then Ctrl-C and `kill -INT` did nothing at all. A second one raises KeyboardInterrupt: a way out of a
    slow start or a slow stop."""

    def asked(signum: int, frame: Any) -> None:
        if _stop_asked.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        _stop_asked.set()

    for stopping in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stopping, asked)


def _serve_until_interrupted(stop: Any) -> int:
    # Startup's objects (modules, the app) are never garbage: freeze them, so a full collection
    # scans only what serving made. benchmarks/sandbox.py, 10,000 sessions: the longest pause
    # 216 ms as is, 87 ms frozen (a pause stops every thread, timers included).
    gc.freeze()
    while not _stop_asked.wait(0.5):
        pass
    stop()
    print("stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
