"""Start (or reuse) the embedded PostgreSQL used by ``make demo`` and ``make test``.

Prints a ``DATABASE_URL`` on standard output, nothing else, so the Makefile can do
``DATABASE_URL=$(python -m clinic.devdb)``. The server is PostgreSQL itself, shipped inside the
``pgserver`` wheel; its data lives in the git-ignored ``.pgdata/`` folder and the server keeps
running after this process exits, so the next command reuses it in well under a second.

Nothing here runs on import: settings never start a database.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / ".pgdata"
# A Unix socket path must fit in sun_path (108 bytes on Linux) with room for ".s.PGSQL.5432".
_SOCKET_LIMIT = 90

HELP = """\
Could not start the embedded PostgreSQL ({error}).
The embedded server comes from the 'pgserver' package, which ships PostgreSQL binaries for
Linux and macOS (x86_64 and arm64) and Python 3.9 to 3.12. Point DATABASE_URL at any
PostgreSQL 14+ server instead:

    export DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DBNAME
    make test        # or: make demo
"""


def url_for_socket_dir(socket_dir: Path, dbname: str = "postgres") -> str:
    """The URL form with a percent-encoded socket directory as host, as dj-database-url reads it."""
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{dbname}"


def start(data_dir: Path = DEFAULT_DATA) -> str:
    """Start the server if it is not running and return its URL."""
    if len(str(data_dir)) > _SOCKET_LIMIT:
        raise RuntimeError(
            f"the folder {data_dir} is too long a path for PostgreSQL's Unix socket; "
            "clone the repository into a shorter path"
        )
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - depends on the platform's wheels
        raise RuntimeError(f"the pgserver package is not installed: {exc}") from exc
    # The server outlives this process on purpose (cleanup_mode=None): it is reused.
    pgserver.get_server(data_dir, cleanup_mode=None)
    return url_for_socket_dir(data_dir)


def running_pid(data_dir: Path = DEFAULT_DATA) -> int | None:
    """The process id of the server running on ``data_dir``, or None."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return None
    return pid if process_alive(pid) else None


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (exited, not yet reaped) does not."""
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user (pgserver's, when we are root)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill() said it is there
    return state != "Z"


def stop(data_dir: Path = DEFAULT_DATA) -> None:
    """Stop the embedded server, keeping its data; raise if it is still running after.

    PostgreSQL refuses to run as root, so under root pgserver runs it as a user of its own
    (``pgserver``); ``pg_ctl stop`` must then run as the owner of the data folder too, or it
    refuses and the server keeps running.
    """
    import os
    import subprocess
    import time

    import pgserver  # noqa: F401  (its binaries are what we call)
    from pgserver._commands import POSTGRES_BIN_PATH

    pid = running_pid(data_dir)
    if pid is None:
        return
    owner = data_dir.stat().st_uid
    result = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"],
        check=False,
        capture_output=True,
        text=True,
        user=owner if os.geteuid() == 0 and owner != 0 else None,
    )
    for _ in range(100):  # pg_ctl returns once the pid file is gone; the process ends just after
        if not process_alive(pid):
            return
        time.sleep(0.1)
    if process_alive(pid):
        raise RuntimeError(
            f"the embedded PostgreSQL on {data_dir} is still running: {result.stderr.strip()}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", default="start", choices=["start", "stop", "running"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    if args.action == "running":  # exit status 0 while a server runs on the folder
        return 0 if running_pid(args.data) is not None else 1
    if args.action == "stop":
        try:
            stop(args.data)
        except Exception as exc:  # noqa: BLE001 - said plainly, and the exit status says it
            print(f"Could not stop the embedded PostgreSQL: {exc}", file=sys.stderr)
            return 1
        return 0
    warnings.simplefilter("ignore")  # pgserver's dependencies warn about runtime dirs; not ours
    try:
        print(start(args.data))
    except Exception as exc:  # noqa: BLE001 - any failure gets the same plain advice
        print(HELP.format(error=exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
