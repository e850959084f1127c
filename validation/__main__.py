"""``python -m depthcheck.validation`` is an alias of ``python -m depthcheck``."""
import sys

from depthcheck.validation.run.cli import main

if __name__ == "__main__":
    sys.exit(main())
