"""`initbounds certify` (commands.certify): bad data files and options are one line naming the option
with exit 2 (issue 12 "Done means"), the JSON contract, the text report."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from initbounds.cli import app
from initbounds.commands.certify import DATASETS
from initbounds.sim import certify as sim_certify

runner = CliRunner()
DESIGN = ["--depth", "1", "--delta", "0.2", "--eps", "0.5"]
MUST = "Error: --data must be an N × n0 array of finite real numbers with no zero row (rows are inputs); got "


def run(*args):
    return runner.invoke(app, ["certify", *args])


@pytest.fixture
def data(tmp_path):
    def write(name, text=None, array=None, tensor=None):
        p = tmp_path / name
        if array is not None:
            np.save(p, array)
        elif tensor is not None:
            torch.save(tensor, p)
        else:
            p.write_text(text)
        return str(p)
    return write


def test_bad_data_files_are_one_line_naming_data(data, tmp_path):
    missing = str(tmp_path / "missing.csv")
    cases = [
        (missing, f"Error: --data must name an existing .npy, .csv or .pt file holding an N × n0 array; got {missing!r} "
                  "(no such file)"),
        (data("x.txt", "1,2\n"), f"Error: --data must name an existing .npy, .csv or .pt file holding an N × n0 array; "
                                 f"got {str(tmp_path / 'x.txt')!r} (the suffix must be .npy, .csv or .pt; got '.txt')"),
        (data("e.csv", ""), MUST + f"{str(tmp_path / 'e.csv')!r}, an empty file"),
        (data("e.npy", array=np.zeros((0, 3))), MUST + f"{str(tmp_path / 'e.npy')!r}, which is empty (shape (0, 3))"),
        (data("t.csv", "1,2\n3,abc\n"), MUST + f"{str(tmp_path / 't.csv')!r} with a non-numeric entry on line 2: '3,abc'"),
        (data("nan.csv", "1,2\n3,nan\n"), MUST + f"{str(tmp_path / 'nan.csv')!r} with a NaN or infinite entry in row 1"),
        (data("nan.npy", array=np.array([[1.0, np.nan]])), MUST + f"{str(tmp_path / 'nan.npy')!r} with a NaN or "
                                                                   "infinite entry in row 0"),
        (data("one.npy", array=np.arange(1.0, 5.0)), MUST + f"{str(tmp_path / 'one.npy')!r}, a 1-D array of shape (4,) "
                                                            "(one input is a 1 × n0 array, N numbers an N × 1 array)"),
        (data("one.pt", tensor=torch.ones(4)), MUST + f"{str(tmp_path / 'one.pt')!r}, a 1-D array of shape (4,) "
                                                      "(one input is a 1 × n0 array, N numbers an N × 1 array)"),
        (data("z.npy", array=np.array([[1.0, 2.0], [0.0, 0.0]])), MUST + f"{str(tmp_path / 'z.npy')!r} with row 1 all "
                                                                         "zero (its norm ratio is 0/0)"),
        (data("z.pt", tensor=torch.tensor([[0.0, 0.0], [1.0, 1.0]])), MUST + f"{str(tmp_path / 'z.pt')!r} with row 0 "
                                                                             "all zero (its norm ratio is 0/0)"),
        (data("s.npy", array=np.array([["a", "b"]])), MUST + f"{str(tmp_path / 's.npy')!r} with non-numeric entries "
                                                             "(dtype <U1)"),
        (data("d.pt", tensor={"w": torch.ones(2)}), f"Error: --data must name a .pt file holding one tensor; got "
                                                    f"{str(tmp_path / 'd.pt')!r} holding a dict"),
    ]
    for path, msg in cases:
        r = run("--data", path, *DESIGN)
        assert r.exit_code == 2 and r.output.strip() == msg, (path, r.output)


@pytest.mark.parametrize("args, msg", [
    (DESIGN, "Error: give one of --data FILE or --dataset NAME"),
    (["--dataset", "mnist", *DESIGN], "Error: --dataset must be one of 'digits', 'iris', 'wine', 'breast_cancer'; "
                                      "got 'mnist'"),
    (["--dataset", "iris", "--depth", "0", "--delta", "0.2", "--eps", "0.5"], "Error: --depth must be an integer ≥ 1; "
                                                                              "got 0"),
    (["--dataset", "iris", *DESIGN, "--confidence", "1"], "Error: --confidence must be in (0, 1); got 1.0"),
    (["--dataset", "iris", *DESIGN, "--budget-seconds", "0"], "Error: --budget-seconds must be in (0, inf); got 0.0"),
    (["--dataset", "iris", *DESIGN, "--trials", "3"], "Error: --trials must be ≥ 16 here: with fewer networks even 0 "
                                                      "failures cannot certify δ = 0.2 at the first test's level "
                                                      "α_1 = 0.0304; got 3"),
    (["--dataset", "iris", *DESIGN, "--device", "tpu"], "Error: --device must be a torch device such as 'cpu' or 'cuda'; got 'tpu'"),
])
def test_bad_options_are_one_line(args, msg):
    r = run(*args)
    assert r.exit_code == 2 and r.output.strip() == msg, r.output


def test_both_data_and_dataset_are_refused(data):
    r = run("--data", data("a.csv", "1,2\n"), "--dataset", "iris", *DESIGN)
    assert r.exit_code == 2 and r.output.strip() == "Error: give one of --data FILE or --dataset NAME, not both"


def test_budget_refusal_names_the_option_and_the_estimate():
    r = run("--dataset", "digits", "--depth", "3", "--delta", "0.05", "--eps", "0.5", "--budget-seconds", "5")
    assert r.exit_code == 2
    line = r.output.strip()
    assert "\n" not in line and line.startswith("Error: the first test (495 networks of width 240 on 1,797 inputs) "
                                                "takes about ")
    assert "more than --budget-seconds = 5 s; raise --budget-seconds or lower --trials (≥ 69;" in line


def test_json_contract_on_a_csv_with_a_header(data):
    rows = "\n".join(",".join(str(v) for v in r) for r in sim_certify.load_dataset("iris")[::10])
    path = data("iris.csv", "a,b,c,d\n" + rows + "\n")
    r = run("--data", path, *DESIGN, "--trials", "60", "--seed", "4", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["data"] == {"name": path, "samples": 15, "input_dim": 4, "rank": 4, "preprocessing": "none"}
    assert obj["single_width"] <= obj["certified_width"] <= obj["union_width"]
    assert obj["ratio_union_to_certified"] == obj["union_width"] / obj["certified_width"]
    assert obj["inputs"]["trials"] == 60 and all(t["trials"] == 60 for t in obj["tests"])
    assert {"worst_case_seconds", "first_test_seconds", "model_seconds_spent"} <= set(obj["estimate"])


def test_text_report_on_a_bundled_dataset():
    r = run("--dataset", "iris", *DESIGN, "--trials", "60")
    assert r.exit_code == 0, r.output
    for text in ("certified width", "union bound (exact_union)", "product bound (chernoff_product)",
                 "one input (exact)", "Error spending: test j at level α_j = 6α/(π² j²)", "Monotonicity",
                 "Time:", "no preprocessing"):
        assert text in r.output


def test_datasets_are_the_library_s():
    assert DATASETS == sim_certify.DATASETS
