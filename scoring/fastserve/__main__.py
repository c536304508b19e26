"""Entry point: ``python -m scoring.fastserve``, ``python -m fastserve`` or ``python fastserve``.

Run as a file or a folder (``python <codedir>/fastserve``), Python puts this folder, not its
parent, on ``sys.path``; the parent is added so that the package imports as ``fastserve``,
which is how it ships inside a deployment's code folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:
    _here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))
    from fastserve.server import main
else:
    from .server import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
