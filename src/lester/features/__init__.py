"""Feature matrices: which input columns feed which columns of ``X``; text featurisers.

The text featurisers need scikit-learn (and, on first use, sentence-transformers or
vaderSentiment); they are imported when first asked for.
"""

from lester.features.matrix_provenance import (
    FeatureBlock,
    MatrixColumnProvenance,
    matrix_column_provenance,
)

_TEXT = {
    "SentenceEmbeddingTransformer",
    "WordCountTransformer",
    "CharacterLengthTransformer",
    "SentimentTransformer",
    "vader_sentiment",
    "load_sentence_model",
    "MissingTextExtraError",
    "UnknownModelError",
}

__all__ = ["FeatureBlock", "MatrixColumnProvenance", "matrix_column_provenance", *sorted(_TEXT)]


def __getattr__(name: str):
    if name in _TEXT:
        from lester.features import text

        return getattr(text, name)
    raise AttributeError(f"module 'lester.features' has no attribute {name!r}")
