"""``python -m devstack``: run the whole template locally until Ctrl-C, with the demo shop (see demo.py)."""

import sys

from devstack import demo

if __name__ == "__main__":
    sys.exit(demo.main())
