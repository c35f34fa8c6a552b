"""``python -m hot_path worker`` (a Faust worker) and ``python -m hot_path score``."""

from __future__ import annotations

import sys

from hot_path.cli import main

if __name__ == "__main__":
    sys.exit(main())
