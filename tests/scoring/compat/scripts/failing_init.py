"""A scoring script whose init() raises: the server must not start serving."""

from __future__ import annotations


def init() -> None:
    raise RuntimeError("the model cannot be loaded")


def run(raw_data: str) -> str:
    return raw_data
