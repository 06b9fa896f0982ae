"""The trial load of a ``.tflite`` model, in a process of its own (see ``tflite.try_in_a_child``).

Reads the model's bytes from stdin and runs ``tflite.examine`` on them. Exit status 0: the
model loads and runs; ``TRIAL_REFUSED`` with the LoadError's message on stdout: LiteRT
refuses it; killed by a signal: the file crashes LiteRT.
"""

from __future__ import annotations

import sys

from moorings.errors import LoadError
from moorings.runtimes.tflite import TRIAL_REFUSED, examine


def main() -> int:
    model = sys.stdin.buffer.read()
    try:
        examine(model, threads=1)
    except LoadError as exc:
        print(exc.message, flush=True)
        return TRIAL_REFUSED
    return 0


if __name__ == "__main__":
    sys.exit(main())
