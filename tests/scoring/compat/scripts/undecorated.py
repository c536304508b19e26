"""An undecorated scoring script: run() gets the body as a string."""

import json


def init():
    pass


def run(raw_data):
    try:
        parsed = json.loads(raw_data)
    except ValueError:
        parsed = None
    return {"type": type(raw_data).__name__, "raw": raw_data, "parsed": parsed}
