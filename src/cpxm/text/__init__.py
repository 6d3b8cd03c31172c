"""Text analysis for feedback: language, sentiment, themes, personal data and safety mentions.

Everything here is pure Python over files that ship with the package (lexicons, taxonomy,
safety vocabulary): no model is downloaded, and one core analyses hundreds of texts a second.
``analyse_text`` is the entry point; the store-aware parts live in ``cpxm.feedback``.
"""

from cpxm.text.pipeline import TextAnalysis, analyse_text
from cpxm.text.products import ProductCatalogue, build_catalogue

__all__ = ["ProductCatalogue", "TextAnalysis", "analyse_text", "build_catalogue"]
