"""``python -m validation.bench [...]`` is ``python -m validation bench [...]``."""
import sys

from validation.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
