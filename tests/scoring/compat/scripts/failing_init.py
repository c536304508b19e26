"""A scoring script whose init() raises: the server must not start serving."""


def init():
    raise RuntimeError("the model cannot be loaded")


def run(raw_data):
    return raw_data
