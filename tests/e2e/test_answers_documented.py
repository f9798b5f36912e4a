"""Every route's error answers are documented with the body the app sends (api/answers.py, #14)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from tests.support import make_runtime
from tradewire.api.answers import ErrorOut, InvalidOut
from tradewire.api.app import create_app

METHODS = {"get", "post", "put", "patch", "delete"}


def test_every_error_answer_has_a_body_and_the_generic_ones_are_there(tmp_path: Path) -> None:
    schema = create_app(make_runtime(tmp_path)).openapi()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components  # no 422 documented as FastAPI's list-only body
    for path, item in schema["paths"].items():
        for method, op in ((m, o) for m, o in item.items() if m in METHODS):
            answers = op["responses"]
            name = f"{method.upper()} {path}"
            for code, answer in answers.items():
                if int(code) >= 400:
                    body = answer.get("content", {}).get("application/json", {}).get("schema")
                    want = "InvalidOut" if code == "422" else None
                    assert body, f"{name} {code} documents no body"
                    assert want is None or body == {"$ref": f"#/components/schemas/{want}"}, name
            if "requestBody" in op:
                assert {"400", "413", "422"} <= answers.keys(), name
            if any(p["in"] == "path" and p["name"].endswith("_id") for p in op.get("parameters", ())):
                assert "404" in answers, name


def test_a_validation_422_and_a_401_match_their_documented_bodies(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    with TestClient(create_app(runtime)) as client:
        client.headers["Authorization"] = "Bearer not-a-token"
        fields = client.post("/api/v1/auth/token", data={})  # the form's fields are missing
        assert fields.status_code == 422
        assert isinstance(InvalidOut.model_validate(fields.json()).detail, list)
        refused = client.get("/api/v1/me")
        assert refused.status_code == 401
        TypeAdapter(ErrorOut).validate_python(refused.json())
