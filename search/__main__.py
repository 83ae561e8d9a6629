"""``python -m zcjax.search``: see :mod:`zcjax.search.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
