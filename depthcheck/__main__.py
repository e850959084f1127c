"""``python -m depthcheck``: see ``python -m depthcheck --help``."""
import sys

from depthcheck.validation.run.cli import main

if __name__ == "__main__":
    sys.exit(main())
