"""``python -m devstack``: run a SAM template locally until Ctrl-C (the project's demo on top: ``python -m demo``)."""

import sys

from devstack import cli

if __name__ == "__main__":
    sys.exit(cli.main())
