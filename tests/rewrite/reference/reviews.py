"""Reference rewrite of ../shared/messy/reviews/messy.py.

Traps kept: the nested-loop product lookup takes the *first* product with the id (``break``);
the ratings dict keeps the last rated row per review; inclusive ISO-date bounds; an empty
seller counts as third party; raw (unnormalised) sha1 bucket counts; the category one-hot
order is [Electronics, Books, Toys]; the label guards against zero votes.
"""

import hashlib

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import lester as lt

TEXT = {"dtype": str, "keep_default_na": False}
START_DATE = "2019-01-01"
END_DATE = "2021-12-31"
KEEP_CATEGORIES = ["Electronics", "Books", "Toys"]


def _lester_dataprep(products_path, ratings_path, reviews_path):
    products = lt.read_csv(products_path, name="products", **TEXT)
    products = products.project(
        "first_of_id",
        ["product_id"],
        lambda df: ~df["product_id"].duplicated(keep="first"),
        vectorized=True,
    )
    products = products.filter("first_of_id")
    products = products.rename(columns={"product_id": "prod_id"})
    products = products[["prod_id", "category", "seller"]]

    ratings = lt.read_csv(ratings_path, name="ratings", **TEXT)
    ratings = ratings.filter("star_rating != ''")
    ratings = ratings.project(
        "last_of_id",
        ["review_id"],
        lambda df: ~df["review_id"].duplicated(keep="last"),
        vectorized=True,
    )
    ratings = ratings.filter("last_of_id")
    for column in ("star_rating", "helpful_votes", "total_votes"):
        ratings = ratings.project(column, [column], lambda row, c=column: int(row[c]))
    ratings = ratings.rename(columns={"review_id": "rated_id"})
    ratings = ratings[["rated_id", "star_rating", "helpful_votes", "total_votes"]]

    reviews = lt.read_csv(reviews_path, name="reviews", **TEXT)
    reviews = reviews.filter("review_date >= @START_DATE and review_date <= @END_DATE")
    rows = lt.join(reviews, products, left_on="product_id", right_on="prod_id")
    rows = rows.filter("category in @KEEP_CATEGORIES")
    rows = lt.join(rows, ratings, left_on="review_id", right_on="rated_id")
    rows = rows.project(
        "is_third_party", ["seller"], lambda row: 0 if row["seller"].startswith("StoreCo") else 1
    )
    return rows[
        [
            "review_id",
            "product_id",
            "category",
            "is_third_party",
            "star_rating",
            "helpful_votes",
            "total_votes",
            "review_text",
        ]
    ]


def hash_text(txt, buckets=16):
    vec = [0.0] * buckets
    for w in (
        txt.lower().replace(",", " ").replace(".", " ").replace('"', " ").replace("!", " ").split()
    ):
        vec[int(hashlib.sha1(w.encode()).hexdigest()[:8], 16) % buckets] += 1
    return vec


def hash_column(frame):
    return np.array([hash_text(t) for t in frame.iloc[:, 0]]).reshape(len(frame), 16)


def encode_features():
    return ColumnTransformer(
        [
            ("text", FunctionTransformer(hash_column), ["review_text"]),
            ("stars", StandardScaler(), ["star_rating"]),
            (
                "category",
                OneHotEncoder(
                    categories=[KEEP_CATEGORIES], sparse_output=False, handle_unknown="ignore"
                ),
                ["category"],
            ),
        ]
    )


def extract_label(df):
    helpful, total = df["helpful_votes"].astype(float), df["total_votes"].astype(float)
    ratio = helpful / total.where(total > 0, 1.0)
    return ((total > 0) & (ratio > 0.5)).astype(float).to_numpy()
