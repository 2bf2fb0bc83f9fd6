"""The Responses API's server-sent events, numbered in order: an output message's
`output_item.added`, `content_part.added`, its `output_text.delta`s, `output_text.done`,
`content_part.done` and `output_item.done`; a file search call's `in_progress`,
`searching` and `completed`."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from typing import Any


class Events:
    def __init__(self) -> None:
        self.sequence = 0

    def next(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    async def message(
        self, item: dict[str, Any], output_index: int, deltas: AsyncIterator[str]
    ) -> AsyncIterator[dict[str, Any]]:
        """The events of one message item whose text arrives as `deltas`; `item` holds
        the whole text when they end."""
        part = item["content"][0]
        annotations = part["annotations"]
        opened = copy.deepcopy(item) | {"status": "in_progress", "content": []}
        at = {"item_id": item["id"], "output_index": output_index}
        yield self.next("response.output_item.added", output_index=output_index, item=opened)
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield self.next("response.content_part.added", **at, content_index=0, part=empty)
        pieces = []
        async for delta in deltas:
            pieces.append(delta)
            yield self.next(
                "response.output_text.delta", **at, content_index=0, delta=delta, logprobs=[]
            )
        part["text"] = "".join(pieces)
        part["annotations"] = annotations
        for index, annotation in enumerate(annotations):
            yield self.next(
                "response.output_text.annotation.added",
                **at,
                content_index=0,
                annotation_index=index,
                annotation=annotation,
            )
        yield self.next(
            "response.output_text.done", **at, content_index=0, text=part["text"], logprobs=[]
        )
        yield self.next("response.content_part.done", **at, content_index=0, part=part)
        yield self.next("response.output_item.done", output_index=output_index, item=item)


def file_search_events(
    events: Events, item: dict[str, Any], output_index: int
) -> Iterator[dict[str, Any]]:
    at = {"item_id": item["id"], "output_index": output_index}
    opened = item | {"status": "in_progress", "results": None}
    yield events.next("response.output_item.added", output_index=output_index, item=opened)
    yield events.next("response.file_search_call.in_progress", **at)
    yield events.next("response.file_search_call.searching", **at)
    yield events.next("response.file_search_call.completed", **at)
    yield events.next("response.output_item.done", output_index=output_index, item=item)
