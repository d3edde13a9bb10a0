"""``python -m gelu_ext [command]``: with no command, the demo (see ``cli``)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
