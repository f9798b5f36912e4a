"""AI chart analysis: the chart a vision model reads (chart.py) and the client that asks it
(vision.py). Both load on first use: matplotlib and the openai SDK take a second or more to import,
which a server without AI strategies (or a command line) should not pay."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradewire.adapters.ai.vision import OpenAIVision
    from tradewire.domain.candles import Candles
    from tradewire.ports.ai import EndpointAccess, VisionAnswer


def render_chart(candles: Candles, title: str) -> bytes:
    """`chart.chart_png`, imported on the first chart."""
    from tradewire.adapters.ai.chart import chart_png

    return chart_png(candles, title)


class LazyVision:
    """An `OpenAIVision` built on the first analysis (no breaker can be open before it)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._client: OpenAIVision | None = None

    def ready_in(self, endpoint_id: int) -> float:
        return 0.0 if self._client is None else self._client.ready_in(endpoint_id)

    async def analyse(self, access: EndpointAccess, prompt: str, image_png: bytes) -> VisionAnswer:
        if self._client is None:
            from tradewire.adapters.ai.vision import OpenAIVision

            self._client = OpenAIVision(**self._options)
        return await self._client.analyse(access, prompt, image_png)
