"""The `qodlab` command: `qodlab demo`, `qodlab sandbox`, `qodlab listen`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handler: Any = args.handler
    return int(handler(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qodlab", description="Explore network Quality on Demand.")
    sub = parser.add_subparsers(dest="command")

    demo = sub.add_parser("demo", help="run a scripted scenario on the embedded sandbox")
    demo.add_argument("--speed", type=float, default=60.0, help="sandbox seconds per real second (default 60)")
    demo.add_argument("--out", default="qodlab-demo", help="folder for the demo's files (default qodlab-demo)")
    demo.set_defaults(handler=_demo)

    sandbox = sub.add_parser("sandbox", help="serve the QoD sandbox until interrupted")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    sandbox.add_argument("--speed", type=float, default=1.0, help="sandbox seconds per real second")
    sandbox.add_argument("--strict", action="store_true", help="require https sinks, as CAMARA v1.1 does")
    sandbox.add_argument("--api-key", default=None, help="require this key (Bearer or X-RapidAPI-Key)")
    sandbox.add_argument(
        "--provisioning-delay", type=float, default=1.0, help="sandbox seconds from REQUESTED to AVAILABLE"
    )
    sandbox.set_defaults(handler=_sandbox)

    listen = sub.add_parser("listen", help="receive QoS notifications and print each event")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    listen.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    listen.add_argument("--path", default="/qod", help="notification path (default /qod)")
    listen.add_argument("--token", default=None, help="bearer token to require (default: a generated one)")
    listen.add_argument("--db", default=None, help="SQLite file to keep every event in")
    listen.set_defaults(handler=_listen)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(speed=args.speed, out=args.out)


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox, StatusChange
    from .sandbox.clock import rfc3339

    sandbox = Sandbox(
        args.host,
        args.port,
        speed=args.speed,
        strict=args.strict,
        api_key=args.api_key,
        provisioning_delay=args.provisioning_delay,
    )

    def show(change: StatusChange) -> None:
        info = f" / {change.status_info.value}" if change.status_info else ""
        print(f"{rfc3339(change.time)}  {change.session_id}  {change.qos_status.value}{info}", flush=True)

    sandbox.engine.subscribe(show)
    print(f"qodlab sandbox serving {sandbox.url} (speed {sandbox.speed:g})", flush=True)
    print(f"  QoD API:      {sandbox.qod_url}", flush=True)
    print(f"  OpenAPI docs: {sandbox.url}/docs", flush=True)
    if args.api_key:
        print("  requests need the API key given with --api-key", flush=True)
    return _serve_until_interrupted(sandbox.stop)


def _listen(args: argparse.Namespace) -> int:
    from .eventlog import EventLog
    from .listener import Listener
    from .notifications import StatusEvent

    def show(event: StatusEvent) -> None:
        info = f" / {event.status_info.value}" if event.status_info else ""
        when = event.event_time.isoformat() if event.event_time else "-"
        print(f"{when}  {event.session_id}  {event.qos_status.value}{info}  ({event.shape})", flush=True)

    log = EventLog(args.db)
    log.on_event(show)
    listener = Listener(log, host=args.host, port=args.port, path=args.path, token=args.token)
    print(f"qodlab listener on {listener.url}", flush=True)
    if listener.token_generated:
        # Printed once so the user can hand it to the provider; never logged anywhere else.
        print(f"  bearer token: {listener.token}", flush=True)
    if args.db:
        print(f"  events kept in {args.db} ({len(log)} already there)", flush=True)
    return _serve_until_interrupted(listener.stop)


def _serve_until_interrupted(stop: Any) -> int:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    stop()
    print("stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
