"""Input validation that names the columns of a data frame that hold no numbers.

scikit-learn's own error named neither the column nor its type: ``could not convert string
to float: 'B'`` for a categorical column, numpy's ``DTypePromotionError`` for dates.
"""

import numpy as np
from sklearn.utils.validation import validate_data


def non_numeric_columns(X):
    """The columns of a data frame (pandas, polars) that hold no numbers, each with its
    dtype; empty for anything else."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "dtypes"):
        return []
    bad = []
    for name, dtype in zip(columns, X.dtypes):
        col = X[name]
        try:
            if hasattr(col, "astype"):  # pandas: nullable columns' NA become NaN
                col.astype("float64")
            else:
                np.asarray(col.to_numpy(), dtype=np.float64)
        except (TypeError, ValueError):
            bad.append(f"{name!r} ({dtype})")
    return bad


def validate_numbers(estimator, X, input_name="X", **kwargs):
    """scikit-learn's ``validate_data(estimator, X, **kwargs)``; where it fails on a data
    frame with columns that hold no numbers, a ``ValueError`` that names them."""
    try:
        return validate_data(estimator, X, **kwargs)
    except (ValueError, TypeError) as exc:
        bad = non_numeric_columns(X)
        if not bad:
            raise
        raise ValueError(
            f"{input_name} has non-numeric column(s) {', '.join(bad)}: "
            f"{type(estimator).__name__} reads numbers only. Encode them as numbers first "
            "(categories with a OneHotEncoder in a ColumnTransformer; dates as, e.g., days "
            "since a start) or leave them out.") from exc
