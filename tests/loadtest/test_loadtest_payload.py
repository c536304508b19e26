"""Request bodies from a request file or from the endpoint's swagger sample input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest import PayloadError, read_request_file, sample_input_from_swagger

SAMPLE = {"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]}


def test_request_file(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(SAMPLE))
    assert json.loads(read_request_file(path)) == SAMPLE


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "does not exist"),
        ("{not json", "is not valid JSON"),
        ("x" * 100, "above the limit of 50 bytes"),
    ],
)
def test_bad_request_files_are_named(tmp_path: Path, content: str | None, words: str) -> None:
    path = tmp_path / "request.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PayloadError) as caught:
        read_request_file(path, max_bytes=50)
    assert str(path) in caught.value.message
    assert words in caught.value.message


def test_non_json_body_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "request.csv"
    path.write_bytes(b"1,2,3\n")
    assert read_request_file(path, require_json=False) == b"1,2,3\n"


def test_openapi3_sample_from_azmlinfsrv() -> None:
    # The shape azmlinfsrv generates for a run() decorated with inference-schema.
    swagger = {
        "openapi": "3.0.3",
        "paths": {
            "/score": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ServiceInput"}
                            }
                        }
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "ServiceInput": {
                    "type": "object",
                    "properties": {"data": {"type": "array"}},
                    "example": SAMPLE,
                }
            }
        },
    }
    assert json.loads(sample_input_from_swagger(swagger)) == SAMPLE


def test_swagger2_sample() -> None:
    swagger = {"swagger": "2.0", "definitions": {"ServiceInput": {"example": SAMPLE}}}
    assert json.loads(sample_input_from_swagger(swagger)) == SAMPLE


def test_swagger_without_sample() -> None:
    # run() not decorated: azmlinfsrv puts an empty example.
    swagger = {"components": {"schemas": {"ServiceInput": {"type": "object", "example": {}}}}}
    with pytest.raises(PayloadError) as caught:
        sample_input_from_swagger(swagger)
    assert "request file" in caught.value.message
