"""fastserve: a fast inference server for Azure ML scoring scripts (init()/run()).

It serves the same ``score.py`` as azmlinfsrv (Azure ML's inference server), with its routes,
answers and headers, on a bare asyncio Protocol over httptools (:mod:`.protocol`): run() goes
to a pool of ``WORKER_COUNT`` threads, so the event loop stays free for the liveness route
and for reading the next requests, or runs on the event loop when the script declares
``FASTSERVE_INLINE = True`` (see :mod:`.app`).

It ships inside the scoring folder and imports only the standard library, httptools, orjson
(optional) and, when a script uses them, inference-schema and azureml-inference-server-http.
Start it as::

    python -m scoring.fastserve --entry_script score.py --port 5001     # from the repository
    python fastserve --entry_script score.py                            # from the code folder
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
