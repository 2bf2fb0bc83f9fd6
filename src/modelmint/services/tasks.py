"""The text task endpoints beside the knowledge bases, held by the app: classify and
summarize, each on the metered path."""

from __future__ import annotations

from modelmint.knowledge.glossary import Glossary
from modelmint.knowledge.terms import Terms
from modelmint.services.classify import Classify
from modelmint.services.models import Models
from modelmint.services.platform import Platform
from modelmint.services.summarize import Summarize

CHAT_MODEL = "default"  # the registry alias of the chat model a task uses unless named


class Tasks:
    def __init__(
        self, platform: Platform, models: Models, terms: Terms, embeddings_model: str
    ) -> None:
        metering = platform.metering
        glossary = Glossary(terms.segmenter)  # one jieba dictionary for both
        self.classify = Classify(models, metering, CHAT_MODEL, embeddings_model, glossary)
        self.summarize = Summarize(models, metering, platform.files, terms, embeddings_model)
