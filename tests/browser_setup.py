"""Make sure the system tools some tests drive are there (``make test`` runs this first).

* Chromium, for the browser tests. Playwright's own browser download cannot work on a closed
  network, so the tests drive Debian's ``chromium`` package.
* GNU gettext, for the test that regenerates the Spanish catalogue and finds nothing missing.

Where one is missing and we are root with apt (as in CI), install it; where we cannot, say so
loudly: those tests are then skipped, except in CI, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def main() -> int:
    missing = []
    if not os.path.exists(CHROMIUM):
        missing += ["chromium", "fonts-dejavu-core"]
    if shutil.which("xgettext") is None:
        missing += ["gettext"]
    if not missing:
        return 0
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"Installing {', '.join(missing)} for the tests (apt-get)...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            check=False,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    if shutil.which("xgettext") is None:
        print(
            "GNU gettext is missing: the catalogue regeneration test will be skipped.",
            file=sys.stderr,
        )
    if os.path.exists(CHROMIUM):
        return 0
    banner = "!" * 78
    print(
        f"{banner}\n!! {CHROMIUM} is missing and could not be installed: browser tests will be SKIPPED.\n"
        f"!! Install it with: sudo apt-get install chromium\n{banner}",
        file=sys.stderr,
    )
    return 1 if os.environ.get("CI") else 0


if __name__ == "__main__":
    sys.exit(main())
