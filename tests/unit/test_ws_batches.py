"""Batch frames of the live channel (api/ws.py): what waits goes out in order, each element exactly the
frame it would have been alone, split by count and size."""

from __future__ import annotations

import json

from tradewire.api.ws import MAX_BATCH, MAX_BATCH_CHARS, batches


def _frames(n: int, size: int = 10) -> list[str]:
    return [json.dumps({"id": i, "topic": "fills", "data": {"x": "y" * size}}) for i in range(1, n + 1)]


def test_frames_go_out_in_order_as_they_were() -> None:
    frames = _frames(3)

    [batch] = batches(frames)

    assert json.loads(batch) == {"frames": [json.loads(f) for f in frames]}


def test_a_batch_is_split_by_count_and_by_size_and_nothing_is_lost() -> None:
    many = _frames(MAX_BATCH * 2 + 1)
    large = _frames(10, size=MAX_BATCH_CHARS // 4)

    by_count, by_size = batches(many), batches(large)

    assert [len(json.loads(b)["frames"]) for b in by_count] == [MAX_BATCH, MAX_BATCH, 1]
    assert all(len(b) <= MAX_BATCH_CHARS + len(large[0]) + 20 for b in by_size) and len(by_size) >= 3
    for made, sent in ((by_count, many), (by_size, large)):
        assert [f for b in made for f in json.loads(b)["frames"]] == [json.loads(f) for f in sent]
