"""Command line: ``python -m emulator serve [--host H] [--port P] [--data-dir D]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from emulator.data_dir import DataDirInUse
from emulator.server import DEFAULT_PORT, EmulatorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator endpoint until Ctrl-C / SIGTERM")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    serve.add_argument("--data-dir", default=".local/emulator")
    serve.add_argument("--region", default="us-east-1")
    serve.add_argument("--max-jobs", type=int, default=2, help="jobs that run at once")
    serve.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (no auth!)"
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        server = EmulatorServer(
            args.data_dir,
            host=args.host,
            port=args.port,
            region=args.region,
            max_jobs=args.max_jobs,
            allow_remote=args.allow_remote,
        )
    except ValueError as exc:
        parser.error(str(exc))
    except DataDirInUse as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 1
    server.start()
    print(f"emulator ready at {server.url} (health: {server.url}/_emulator/health)", flush=True)

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    stop.wait()
    print("emulator stopping: stopping running jobs", flush=True)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
