"""``python -m devstack``: run the whole template locally until Ctrl-C."""

import sys

from devstack import cli

if __name__ == "__main__":
    sys.exit(cli.main())
