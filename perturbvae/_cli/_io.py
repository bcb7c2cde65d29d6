"""Input and output of the command line: the data files it reads, the folder it writes.

Everything here runs before torch is imported, so a wrong path or column is reported at
once rather than after the seconds that import takes.
"""

import csv
import json
import math
import os
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np

from ._arguments import names_text
from ._errors import UsageError

_MIN_ROWS = 10
_ID_MIN_ROWS = 20  # a column 1, 2, 3, ... this long is taken for row numbers


# ---------------------------------------------------------------------------- reading --
def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _numbered(row):
    """Whether ``row`` is the column numbers 0, 1, 2, ... (or 1, 2, 3, ...), after at most one
    empty cell in front: the header pandas writes for unnamed columns (the empty cell
    heads its index column)."""
    cells = row[1:] if row and row[0] == "" else row
    if len(cells) < 2 or not all(c.isdigit() for c in cells):
        return False
    start = int(cells[0])
    return start in (0, 1) and [int(c) for c in cells] == list(range(start,
                                                                      start + len(cells)))


# Cells that mark a missing value in CSV files written by R, pandas and spreadsheets.
_MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}


def _has_header(first, rest, named):
    """Whether the first row names the columns.

    It does when it holds text in a column whose other cells are numbers (a text
    column is text all the way down, header or not), when it numbers the columns as pandas
    does for unnamed ones (and the next row does not), or when it holds one of the names
    given on the command line.
    """
    if any(name in first and not name.isdigit() for name in named):
        return True
    if _numbered(first) and not (rest and _numbered([c.strip() for c in rest[0]])):
        return True
    if _index_header(first, rest):
        return True
    sample = rest[:200]
    for j, cell in enumerate(first):
        if cell.lower() in _MISSING or _is_number(cell):  # a gap is not a name
            continue
        below = [r[j].strip() for r in sample if j < len(r) and r[j].strip() != ""]
        if not below or all(_is_number(c) for c in below):
            return True
    return False


def _index_header(first, rest):
    """Whether ``first`` is the header pandas writes above its index: an empty cell over a
    first column that counts the rows below it (0, 1, 2, ... or 1, 2, 3, ...), whatever
    the other names are (years, numbers: the header was read as a row, and its empty cell
    as a missing value on line 1)."""
    return (len(first) >= 2 and first[0] == ""
            and _numbered([r[0].strip() for r in rest[:200] if r]))


def _read_rows(path):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(64 * 1024)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        return [r for r in csv.reader(fh, dialect) if r and any(c.strip() for c in r)]


def _column_index(path, name, names, has_header, option):
    """The index of the column ``name`` given to ``option``."""
    if name in names:
        return names.index(name)
    if not has_header and name.isdigit() and int(name) < len(names):
        return int(name)
    where = (f"columns: {', '.join(names)}" if has_header
             else f"the file has no header; give a 0-based index below {len(names)}")
    raise UsageError(f"{path}: no column {name!r} for {option} ({where})")


def _check_distinct(path, names):
    """A header must name each column once: options and outputs name columns."""
    seen = {}
    for j, name in enumerate(names):
        seen.setdefault(name, []).append(j)
    repeated = {name: js for name, js in seen.items() if len(js) > 1}
    if repeated:
        where = "; ".join(f"{name!r} at columns {', '.join(map(str, js))}"
                          for name, js in repeated.items())
        raise UsageError(f"{path}: the header names some columns twice ({where}); "
                         "give each column its own name")


def _parse_column(path, body, j, name, first_line, missing_ok=False):
    """Column ``j`` of the rows as floats, or a UsageError naming the bad cell; missing
    cells are NaN where ``missing_ok``."""
    values = np.empty(len(body), dtype=np.float64)
    for i, row in enumerate(body):
        cell = row[j].strip()
        if missing_ok and cell.lower() in _MISSING:
            values[i] = np.nan
            continue
        if cell.lower() in _MISSING:
            # a gap in one row, not a text column: dropping the column would be wrong advice
            what = "an empty value" if cell == "" else f"{cell!r}"
            header = " If line 1 names the columns, pass --header." if i + first_line == 1 \
                else ""
            raise UsageError(
                f"{path}: column {name!r} has a missing value ({what}) on line "
                f"{i + first_line}: fill it in or leave that row out (missing values are "
                f"not imputed; --drop-missing-rows leaves out every such row).{header}")
        try:
            values[i] = float(cell)
        except ValueError:
            _refuse_numbers_with_commas(path, body, j, name, first_line)
            raise UsageError(
                f"{path}: column {name!r} is not numeric: the value {cell!r} on line "
                f"{i + first_line} (only numeric feature columns are accepted; give a text "
                f"label to --label-column, or leave the column out with --drop-columns "
                f"{names_text([name])})"
            ) from None
        if not math.isfinite(values[i]):
            raise UsageError(f"{path}: column {name!r} has a non-finite value ({cell!r}) on "
                             f"line {i + first_line}")
    return values


def _text_cell(body, j):
    """The first row and cell of column ``j`` that is neither a number nor missing; None
    where there is none, or where the column writes numbers with commas (said by
    :func:`_refuse_numbers_with_commas`)."""
    cells = [row[j].strip() for row in body]
    if any(_comma_number(c) for c in cells):
        return None
    return next(((i, c) for i, c in enumerate(cells)
                 if c.lower() not in _MISSING and not _is_number(c)), None)


def _missing_cells(body, j):
    """How many cells of column ``j`` are missing, and the row of the first (None: none)."""
    rows = [i for i, row in enumerate(body) if row[j].strip().lower() in _MISSING]
    return len(rows), (rows[0] if rows else None)


def _refuse_unreadable_columns(path, body, columns, first_line):
    """Where the feature ``columns`` ((index, name) pairs) fail to read in more than one
    way, every failure at once: text columns with one --drop-columns for them all, and the
    columns with missing values with their counts (Salaries' three text columns took three
    runs, one named per run; msleep's missing values four, a column each). A file with no
    numeric column at all is said as such: the advice to drop every column led to "no
    feature columns left". A single failure is left to :func:`_parse_column`, which says
    more about it."""
    text = [(name, _text_cell(body, j)) for j, name in columns]
    text = [(name, found) for name, found in text if found is not None]
    named = {name for name, _ in text}
    missing = [(name, _missing_cells(body, j)) for j, name in columns if name not in named]
    missing = [(name, found) for name, found in missing if found[0]]
    if len(text) == len(columns):
        raise UsageError(
            f"{path}: none of its {len(columns)} feature columns is numeric (e.g. "
            f"{text[0][1][1]!r} on line {text[0][1][0] + first_line} of column "
            f"{text[0][0]!r}): the command reads numeric features. Give a text label to "
            "--label-column; the other columns must hold numbers")
    if len(text) + len(missing) < 2:
        return
    said = []
    if text:
        cells = "; ".join(f"{name!r} ({cell!r} on line {i + first_line})"
                          for name, (i, cell) in text)
        said.append(f"{len(text)} column(s) are not numeric: {cells}. Only numeric feature "
                    "columns are accepted: give a text label to --label-column, and leave the "
                    f"others out with --drop-columns {names_text([name for name, _ in text])}")
    if missing:
        cells = "; ".join(f"{name!r} ({k} missing, the first on line {i + first_line})"
                          for name, (k, i) in missing)
        said.append(f"{len(missing)} column(s) have missing values: {cells}. Fill them in or "
                    "leave those rows out (missing values are not imputed; "
                    "--drop-missing-rows leaves out every such row), or leave the columns out "
                    f"with --drop-columns {names_text([n for n, _ in missing])}")
    raise UsageError(f"{path}: " + "; and ".join(said))


def _comma_number(cell):
    """Whether ``cell`` is a number written with a comma (decimal or thousands)."""
    return "," in cell and not _is_number(cell) and (
        _is_number(cell.replace(",", ".")) or _is_number(cell.replace(",", "")))


def _refuse_numbers_with_commas(path, body, j, name, first_line):
    """A column of numbers written with commas (decimal commas, as in a ';'-separated
    file saved in a European locale, or thousands separators) is named as such: it read
    as text, with no header detected, and the error named the header's first cell."""
    top = body[0][j].strip() if body else ""
    shown = repr(name)
    if first_line == 1 and top and not _is_number(top) and "," not in top:
        # the first line was read as data: its cell is the column's name, most likely
        shown += f" (headed {top!r} on line 1, if that line names the columns: --header)"
    for i, row in enumerate(body):
        cell = row[j].strip()
        if _comma_number(cell):
            raise UsageError(
                f"{path}: column {shown} writes numbers with a comma ({cell!r} on line "
                f"{i + first_line}): decimal commas or thousands separators are not read; "
                "save the file with plain numbers (a decimal point, no thousands separator)")


def _warn_if_row_numbers(path, name, values, unnamed=False):
    """Warn about a feature column that counts the rows, or (``unnamed``: its header cell
    is empty, as above the index pandas writes) holds distinct whole numbers: an id or an
    index embedded as a feature. An index after ``df.sample`` or ``dropna`` (Star, PSID)
    no longer counts the rows, and went in unsaid (PSID read 7 wells, 3 without it)."""
    whole = np.all(values == np.round(values))
    if len(values) >= _ID_MIN_ROWS and whole and np.all(np.diff(values) == 1):
        what = f"counts the rows ({values[0]:g}, {values[1]:g}, ...)"
    elif unnamed and whole and len(np.unique(values)) == len(values):
        what = ("has no name and holds a distinct whole number on each row, as the index "
                "pandas writes (to_csv) does,")
    else:
        return
    warnings.warn(f"{path}: column {name!r} {what} and is used as a feature; if it is an id "
                  f"or an index, leave it out with --drop-columns {names_text([name])}",
                  UserWarning, stacklevel=2)


def _labels_of(body, j):
    raw = [row[j].strip() for row in body]
    labels = (np.array([float(v) for v in raw])
              if all(_is_number(v) for v in raw) else np.array(raw))
    if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    return labels


def load_csv(path, label_column=None, drop_columns=(), header=False, drop_missing=False):
    """Read a numeric CSV file.

    Parameters
    ----------
    path : str or Path
        The file.
    label_column : str, default=None
        A column (name, or 0-based index in a headerless file) kept as labels, not features.
    drop_columns : sequence of str, default=()
        Columns read neither as features nor as labels.
    header : bool, default=False
        The first row names the columns; otherwise that is read from the file.
    drop_missing : bool, default=False
        Leave out the rows with a missing value in a feature column (with a warning that
        counts them); otherwise a missing value is an error.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,) or None
    feature_names : list of str or None
        None when the file has no header.
    label_name : str or None
    """
    rows = _read_rows(path)
    if not rows:
        raise UsageError(f"{path}: the file is empty")
    first = [c.strip() for c in rows[0]]
    named = ([label_column] if label_column is not None else []) + list(drop_columns)
    has_header = header or _has_header(first, rows[1:], named)
    if has_header:  # an empty name (pandas' index column) is named as pandas reads it
        names = [c if c else f"Unnamed: {j}" for j, c in enumerate(first)]
        body, first_line = rows[1:], 2
        _check_distinct(path, names)
    else:
        names, body, first_line = [f"column {j}" for j in range(len(first))], rows, 1
    if not body:
        raise UsageError(f"{path}: the file has a header but no data rows")
    for i, row in enumerate(body):
        if len(row) != len(names):
            raise UsageError(f"{path}: line {i + first_line} has {len(row)} fields, "
                             f"expected {len(names)}")
    label_idx = (None if label_column is None else
                 _column_index(path, label_column, names, has_header, "--label-column"))
    dropped = {_column_index(path, name, names, has_header, "--drop-columns")
               for name in drop_columns}
    if label_idx is not None and label_idx in dropped:
        raise UsageError(f"{path}: column {label_column!r} is given to both --label-column "
                         "and --drop-columns: a label column is not a feature already; "
                         "give it to one of them")
    cols = [j for j in range(len(names)) if j != label_idx and j not in dropped]
    if not cols:
        raise UsageError(f"{path}: no feature columns left besides the label and dropped "
                         "columns")
    display = [names[j] if has_header else str(j) for j in range(len(names))]
    try:
        X = np.column_stack([_parse_column(path, body, j, display[j], first_line,
                                           missing_ok=drop_missing) for j in cols])
    except UsageError:  # read again only to name every failing column at once
        _refuse_unreadable_columns(path, body, [(j, display[j]) for j in cols], first_line)
        raise
    keep = ~np.isnan(X).any(axis=1)
    if not keep.all():
        if not keep.any():
            raise UsageError(f"{path}: every row has a missing value in a feature column: "
                             "no row is left (--drop-missing-rows)")
        warnings.warn(f"{path}: {int((~keep).sum())} of {len(X)} rows have a missing value "
                      "in a feature column and are left out (--drop-missing-rows)",
                      UserWarning, stacklevel=2)
        X, body = X[keep], [row for row, k in zip(body, keep) if k]
    for k, j in enumerate(cols):
        _warn_if_row_numbers(path, display[j], X[:, k], unnamed=has_header and not first[j])
    labels = None if label_idx is None else _labels_of(body, label_idx)
    feature_names = [names[j] for j in cols] if has_header else None
    return X, labels, feature_names, (names[label_idx] if label_idx is not None else None)


def load_npy(path):
    """Read a 2-D numeric array from a ``.npy`` file."""
    try:
        X = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise UsageError(f"{path}: not a plain numeric .npy array ({exc})") from None
    if not isinstance(X, np.ndarray):
        raise UsageError(f"{path}: expected one array, got {type(X).__name__}")
    if X.dtype.kind not in "biuf":
        what = {"c": "complex numbers: save the real and imaginary parts as columns",
                "V": "a structured array: save its fields as the columns of a plain array"
                }.get(X.dtype.kind, "not numbers")
        raise UsageError(f"{path}: the array has dtype {X.dtype} ({what}); real numbers "
                         "(integers, floats or booleans) are needed")
    if X.ndim != 2:
        raise UsageError(f"{path}: expected a 2-D array (samples x features), got shape "
                         f"{X.shape}")
    X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise UsageError(f"{path}: {int(bad.sum())} non-finite value(s), the first at row "
                         f"{i}, column {j}")
    return X


def _check_path(path):
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, expected a CSV or .npy file")
    if not path.is_file():  # a device (/dev/zero) or a pipe can be endless
        raise UsageError(f"{path}: not a regular file (a device or a pipe); save the data "
                         "to a CSV or .npy file first")


def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data.astype(np.float64), digits.target, {
        "source": "sklearn.datasets.load_digits", "label_column": "digit"}


def load_data(args):
    """Return ``(X, labels, info)`` for the command's arguments."""
    if args.data is None:
        for option, value in (("--label-column", args.label_column),
                              ("--drop-columns", args.drop_columns),
                              ("--drop-missing-rows", args.drop_missing_rows or None)):
            if value is not None:
                raise UsageError(f"{option} needs a CSV data file")
        return _digits()
    path = Path(args.data)
    _check_path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if (args.label_column is not None or args.drop_columns is not None or args.header
                or args.drop_missing_rows):
            raise UsageError("--label-column, --drop-columns, --header and "
                             "--drop-missing-rows work with CSV files only")
        X, labels, names, label_name = load_npy(path), None, None, None
    elif suffix in (".csv", ".tsv", ".txt", ""):
        X, labels, names, label_name = load_csv(path, args.label_column,
                                                args.drop_columns or (), args.header,
                                                args.drop_missing_rows)
    else:
        raise UsageError(f"{path}: unknown file type {suffix!r}; give a .csv or .npy file")
    if X.shape[0] < _MIN_ROWS:
        raise UsageError(f"{path}: {X.shape[0]} row(s) are too few (at least {_MIN_ROWS} "
                         "are needed)")
    info = {"source": str(path), "label_column": label_name}
    if names is not None:
        info["feature_names"] = names
    return X, labels, info


def _not_utf8(path, exc):
    """The error for a text file that is not UTF-8, naming the line of its first byte that
    is not: decoded whole, for an offset in the file (the codec's own, ``exc``, is within
    the chunk it was decoding)."""
    data = Path(path).read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as whole:
        line = data[:whole.start].count(b"\n") + 1
        return (f"{path}: line {line} is not UTF-8 text (byte {data[whole.start]:#x}); save "
                "the file as UTF-8 (a spreadsheet's 'CSV UTF-8', or iconv -f latin1 -t utf-8)")
    return f"{path}: cannot read the data ({exc})"


def read_input(args):
    """The data of the command, with every reading error as a :class:`UsageError`."""
    try:
        X, labels, info = load_data(args)
    except UsageError:
        raise
    except MemoryError:
        raise UsageError(f"{args.data}: too large to read into memory") from None
    except UnicodeDecodeError as exc:
        raise UsageError(_not_utf8(args.data, exc)) from None
    except (ValueError, TypeError, OSError, csv.Error) as exc:
        raise UsageError(f"{args.data or 'digits'}: cannot read the data ({exc})") from None
    if np.all(X == X[0]):
        raise UsageError(f"{info['source']}: every feature is constant; there is nothing "
                         "to embed")
    return X, labels, info


def standardise(X):
    """Each column to zero mean and unit variance, exactly also for extreme magnitudes.

    Dividing a column by a power of two is exact in floating point, so bringing its
    largest value into [1, 2) first keeps the variance of values near 1e300 finite
    (``StandardScaler`` alone overflows there) without changing the result elsewhere.
    """
    from sklearn.preprocessing import StandardScaler

    top = np.max(np.abs(X), axis=0)
    exponent = np.floor(np.log2(np.where(top > 0, top, 1.0)))
    return StandardScaler().fit_transform(np.ldexp(X, -exponent.astype(int)))


# ---------------------------------------------------------------------------- writing --
def default_out():
    """A new ``perturbvae-output-YYYYmmdd-HHMMSS`` folder name in the working directory."""
    base = Path.cwd() / f"perturbvae-output-{datetime.now():%Y%m%d-%H%M%S}"
    out, k = base, 1
    while out.exists():
        out, k = base.with_name(f"{base.name}-{k}"), k + 1
    return out


def output_folder(args):
    """The output folder, refused when it exists (unless ``--force``)."""
    out = Path(args.out) if args.out else default_out()
    if out.exists() and not args.force:
        raise UsageError(f"output folder {out} exists; use --force to write into it, or "
                         "choose another --out")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    _check_writable(out)
    return out


def _check_writable(out):
    """Refuse, before any work, an output folder that cannot be made: a folder is made and
    removed where ``out`` or its nearest existing parent is (the run writes only at the end)."""
    import tempfile

    base = out
    while not base.exists() and base != base.parent:
        base = base.parent
    try:
        if not base.is_dir():
            raise NotADirectoryError(f"{base} is not a folder")
        os.rmdir(tempfile.mkdtemp(dir=base))
    except OSError as exc:  # the reason, not the probe's own name
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None


def write_embedding(out, names, Z, labels):
    """``embedding.npy`` and ``embedding.csv`` (with a ``label`` column when labelled)."""
    np.save(out / "embedding.npy", Z)
    with open(out / "embedding.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names + (["label"] if labels is not None else []))
        for i in range(Z.shape[0]):
            row = [f"{v:.7g}" for v in Z[i]]
            if labels is not None:
                row.append(str(labels[i]))
            w.writerow(row)


def write_summary(out, summary):
    """``summary.json``, written last: its presence marks a complete run."""
    from .._archive import jsonable

    try:
        with open(out / "summary.json", "w") as fh:
            json.dump(jsonable(summary), fh, indent=2)
            fh.write("\n")
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc}") from None
