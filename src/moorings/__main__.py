import sys

from moorings.cli import main

if __name__ == "__main__":  # spawned worker processes (--workers) import this module
    sys.exit(main())
