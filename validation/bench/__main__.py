"""``python -m depthcheck.validation.bench [...]`` is ``python -m depthcheck bench [...]``."""
import sys

from depthcheck.validation.run.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
