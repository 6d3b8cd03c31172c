"""Text analysis for feedback: language, sentiment, themes, personal data and safety mentions.

Everything here runs on files that ship with the packages (lexicons, taxonomy, safety
vocabulary, and the MiniLM model with the learned heads of ``cpxm.text.learned``): nothing is
downloaded, and one core analyses over a hundred texts a second. ``analyse_text`` (and
``analyse_texts`` for a batch) is the entry point; the store-aware parts live in ``cpxm.feedback``.
"""

from cpxm.text.pipeline import TextAnalysis, analyse_text, analyse_texts
from cpxm.text.products import ProductCatalogue, build_catalogue

__all__ = ["ProductCatalogue", "TextAnalysis", "analyse_text", "analyse_texts", "build_catalogue"]
