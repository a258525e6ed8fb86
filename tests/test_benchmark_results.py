"""The committed probe benchmark and the places that show it: docs/results.md, notebooks 06 and 07."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dcgan_course import cifar10_results, evaluation

ROOT = Path(__file__).resolve().parent.parent
RESULTS = evaluation.load_results()
NOTEBOOKS = ["notebooks/06_linear_probing.ipynb", "notebooks/07_improving_representations.ipynb"]
FIGURE_WITH_SPREAD = re.compile(r"\d+\.\d\s*±\s*\d")


def test_the_results_file_holds_seeded_comparisons_with_paired_gaps():
    assert RESULTS, "benchmarks/results/probe.json is missing: run benchmarks/probe.py"
    for dataset, entry in RESULTS.items():
        assert entry["seeds"] >= 3, dataset
        assert {"raw_pixels", "random_init_discriminator"} < set(entry["results"]), dataset
        for method, row in entry["results"].items():
            assert row["accuracy"]["n"] == entry["seeds"] == len(row["per_seed"]), (dataset, method)
            assert ("gap" in row) == (method != "random_init_discriminator"), (dataset, method)
        assert entry["validation"] > 0 and entry["test"] > 0, "validation and test are separate splits"


def test_the_results_page_shows_exactly_the_committed_results():
    page = (ROOT / "docs" / "results.md").read_text()
    start = page.index("<!-- benchmark: probe results")
    block = page[page.index("\n", start) + 1: page.index("<!-- end of benchmark results -->")]
    assert block.strip() == evaluation.benchmark_report(RESULTS).strip(), \
        "docs/results.md is stale: run python benchmarks/probe.py --render"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebooks_render_the_results_instead_of_typing_numbers(path):
    cells = json.loads((ROOT / path).read_text())["cells"]
    code = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    markdown = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]
    assert any("evaluation.benchmark_report(" in source for source in code)
    typed = [m for text in markdown for m in FIGURE_WITH_SPREAD.findall(text)]
    assert typed == [], f"typed-in results in {path}: {typed}"


def test_the_report_names_the_command_the_splits_and_the_choice():
    entry = {"pool": 800, "base_width": 32, "labels_per_class": 10, "draws_per_seed": 5, "seeds": 3,
             "validation": 200, "test": 797, "command": "python benchmarks/probe.py --dataset digits",
             "wall_seconds": 600, "selection": [{"recipe": "plain", "epochs": 15, "validation": 0.9},
                                                {"recipe": "translate", "epochs": 30, "validation": 0.92}],
             "results": evaluation.summarise({"raw_pixels": [0.8, 0.82, 0.81],
                                              "random_init_discriminator": [0.9, 0.91, 0.9]},
                                             "random_init_discriminator")}
    report = evaluation.benchmark_report({"digits": entry})
    assert "(translate, 30 epochs)" in report and "`python benchmarks/probe.py --dataset digits`" in report
    assert "200 validation labels" in report and "797 test images" in report


def test_the_results_page_shows_exactly_the_committed_cifar10_results():
    page = (ROOT / "docs" / "results.md").read_text()
    start = page.index("<!-- benchmark: cifar10 results")
    block = page[page.index("\n", start) + 1: page.index("<!-- end of cifar10 results -->")]
    expected = cifar10_results.report(cifar10_results.load())
    assert block.strip() == expected.strip(), "docs/results.md is stale: paste benchmarks/cifar10.py --report"


def test_the_readme_opens_with_the_representation_learning_curve_and_notebook_06_renders_it():
    readme = (ROOT / "README.md").read_text()
    first_image = re.search(r"!\[[^\]]*\]\[([^\]]+)\]", readme).group(1)
    assert re.search(rf"^\[{first_image}\]: docs/figures/cifar10_curve.png$", readme, re.M)
    assert (ROOT / "docs" / "figures" / "cifar10_curve.png").is_file()
    cells = json.loads((ROOT / "notebooks" / "06_linear_probing.ipynb").read_text())["cells"]
    code = "".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    assert "cifar10_results.plot_curve(" in code and "cifar10_results.load()" in code
