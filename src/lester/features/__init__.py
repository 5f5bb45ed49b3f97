"""Feature matrices: which input columns feed which columns of ``X``."""

from lester.features.matrix_provenance import (
    FeatureBlock,
    MatrixColumnProvenance,
    matrix_column_provenance,
)

__all__ = ["FeatureBlock", "MatrixColumnProvenance", "matrix_column_provenance"]
