"""A scoring script that answers with the process that ran it (for multi-process tests)."""

import os


def init():
    pass


def run(raw_data):
    return {"pid": os.getpid()}
