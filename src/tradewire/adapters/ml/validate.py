"""Validate an uploaded model in a child process with CPU-time and memory limits.

A model file is untrusted input: it is parsed by LightGBM's C++ text parser, never unpickled, and only
in a child (`python -m tradewire.adapters.ml.validate`) whose address space and CPU time are capped
with `resource.setrlimit` before the parse. The parent also keeps a wall-clock timeout and kills the
child at it. The child reads the model on stdin and prints one JSON line: {"ok": true, "features":
[...]} or {"ok": false, "reason": "..."}. Checks: it parses as a LightGBM text model, its feature
names equal the declared feature set's, and it predicts a probability in [0, 1] on a sample row.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

CPU_SECONDS = 10
MEMORY_BYTES = 1024 * 1024 * 1024
WALL_SECONDS = 20.0


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def validate_model(
    text: bytes,
    expected_features: tuple[str, ...],
    cpu_seconds: int = CPU_SECONDS,
    memory_bytes: int = MEMORY_BYTES,
    wall_seconds: float = WALL_SECONDS,
) -> Verdict:
    """Run the checks in a limited child; any failure (including the limits) is a refusal with why."""
    payload = json.dumps({"features": list(expected_features)}).encode() + b"\n" + text
    try:
        done = subprocess.run(  # noqa: S603  (our own module, no shell, input on stdin)
            [sys.executable, "-m", "tradewire.adapters.ml.validate", str(cpu_seconds), str(memory_bytes)],
            input=payload,
            capture_output=True,
            timeout=wall_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Verdict(False, f"validation took longer than {wall_seconds:g} s")
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    if done.returncode != 0 or not lines:
        if done.returncode < 0:
            return Verdict(False, f"validation was stopped by a limit (signal {-done.returncode})")
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no answer"]
        if "MemoryError" in tail[0] or "bad_alloc" in tail[0]:
            return Verdict(False, "validation ran out of memory")
        return Verdict(False, f"validation failed: {tail[0][:200]}")
    answer = json.loads(lines[-1])
    return Verdict(bool(answer.get("ok")), str(answer.get("reason", "")))


@dataclass(frozen=True)
class ChildProcessValidator:
    """`ModelValidator`: `validate_model` with these limits."""

    cpu_seconds: int = CPU_SECONDS
    memory_bytes: int = MEMORY_BYTES
    wall_seconds: float = WALL_SECONDS

    def validate(self, content: bytes, feature_names: tuple[str, ...]) -> str | None:
        verdict = validate_model(
            content, feature_names, self.cpu_seconds, self.memory_bytes, self.wall_seconds
        )
        return None if verdict.ok else verdict.reason or "not a valid model"


def _child(cpu_seconds: int, memory_bytes: int) -> dict[str, object]:
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    raw = sys.stdin.buffer.read()
    header, _, body = raw.partition(b"\n")
    expected = tuple(json.loads(header)["features"])
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"ok": False, "reason": "not a LightGBM text model (not UTF-8 text)"}
    import numpy as np

    from tradewire.adapters.ml.lightgbm_model import load_predictor

    try:
        predictor = load_predictor(text)
    except ValueError as exc:
        return {"ok": False, "reason": str(exc)[:300]}
    if predictor.feature_names != expected:
        return {"ok": False, "reason": "its feature names are not the declared feature set's"}
    try:
        probability = predictor.predict(np.zeros((1, len(expected))))
    except Exception as exc:
        return {"ok": False, "reason": f"it does not predict on a sample row: {exc}"[:300]}
    if probability.shape != (1,) or not 0.0 <= float(probability[0]) <= 1.0:
        return {"ok": False, "reason": "its prediction on a sample row is not a probability"}
    return {"ok": True}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(_child(int(sys.argv[1]), int(sys.argv[2]))) + "\n")
