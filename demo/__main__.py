"""``python -m demo`` (``./dev local``): the local stack with the sandboxes and a demo shop, until Ctrl-C."""

import sys

from demo import main

if __name__ == "__main__":
    sys.exit(main())
