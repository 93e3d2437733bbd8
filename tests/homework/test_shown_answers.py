"""Answers read from a learner's outputs, under their own headings, as a person reads them."""

from __future__ import annotations

import nbformat
import pytest

from mlops_kit.homework import load_cohort
from mlops_kit.homework.shown_answers import cell_label, shown_answers

PRACTICE = load_cohort("practice")


def _code(source: str, *outputs, count: int | None = None):
    cell = nbformat.v4.new_code_cell(source)
    cell.execution_count = count
    cell.outputs = list(outputs)
    return cell


def _result(text: str):
    return nbformat.v4.new_output("execute_result", data={"text/plain": text}, execution_count=1)


def _stdout(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _md(text: str):
    return nbformat.v4.new_markdown_cell(text)


def _values(cells, cohort=PRACTICE):
    nb = nbformat.v4.new_notebook(cells=cells)
    return {q: a.value for q, a in shown_answers(nb, cohort).items()}


@pytest.mark.parametrize(
    "heading",
    [
        "## Q1. Downloading the data",
        "# Q1",
        "Q1) Total number of columns",
        "# Question 1",
        "### 1. Read the data for January. How many columns are there?",
        "#### Download the data",
    ],
)
def test_the_ways_learners_head_a_question(heading):
    assert _values([_md(heading), _code("df.shape", _result("(76518, 20)"))]) == {"q1": 20}


def test_a_part_reads_the_last_one_line_output_of_its_cells():
    cells = [
        _md("## Q2. Computing duration"),
        _code("df.duration.describe()", _result("count    76518\nmean  19.9\nstd  59.3")),
        _code("print(df.duration.std())", _stdout("59.33859413164492\n")),
        _code("sns.histplot(df.duration)", _result("<Axes: xlabel='duration'>")),
        _md("## Q3. Dropping outliers"),
        _code("print(len(df))\nlen(df) / n", _stdout("73908\n"), _result("0.9658903787344154")),
        _md("#### Train model"),
        _code("root_mean_squared_error(y, p)", _result("np.float64(9.775596)")),
        _md("#### Validation"),
        _code("print(f'Rows: {n:,}, Columns: 4')", _stdout("Rows: 61,921, Columns: 4\n")),
        _code("root_mean_squared_error(y_val, p_val)", _result("10.4737")),
    ]
    # the describe() table and the plot are not read; the RMSE comes after "Rows: ..."
    assert _values(cells) == {
        "q2": 59.33859413164492,
        "q3": 0.9658903787344154,
        "q5": 9.775596,
        "q6": 10.4737,
    }
    assert _values(cells[:-1])["q6"] == 4  # without the RMSE cell: the last number shown


def test_validation_heading_names_the_evaluation_question():
    cells = [_md("# Validation"), _code("rmse", _result("10.47"))]
    assert _values(cells) == {"q6": 10.47}


def test_printed_labels_answer_their_question_wherever_they_are():
    cells = [
        _code(
            "get_samples(df)",
            _stdout("num_columns: 20\ninputs.shape (73908, 506)\n\nQ1: 20\nQ2: 59.3386\n"),
            _stdout("Q4: 506 \n"),
        ),
        _code("print('Q5:', r)", _stdout("Q5: 9.7756\n")),
    ]
    assert _values(cells) == {"q1": 20, "q2": 59.3386, "q4": 506, "q5": 9.7756}


def test_shell_cells_warnings_and_unmarked_cells_are_not_read():
    stderr = nbformat.v4.new_output("stream", name="stderr", text="FutureWarning 1.6\n")
    cells = [
        _code("len(df.columns)", _result("20")),  # before any marker: not guessed
        _md("## Q1. Downloading the data"),
        _code("!wget URL", _stdout("green_tripdata_2021-01.parquet: already there\n")),
        _md("## Q5"),
        _code("mean_squared_error(y, p, squared=False)", stderr),
    ]
    assert _values(cells) == {}


def test_a_heading_number_the_cohort_lacks_is_no_marker():
    cells = [_md("## 1.6 Homework"), _code("x", _result("7"))]
    cells += [_md("## Q9"), _code("y", _result("8"))]
    assert _values(cells) == {}


def test_2022_data_preparation_heading_names_the_dropped_records():
    cells = [
        _md("## Data preparation\n\nLet's remove them."),
        _code("print('dropped records: ', 44286)", _stdout("dropped records:  44286\n")),
    ]
    assert _values(cells, load_cohort("2022")) == {"dropped": 44286}


def test_answers_name_their_cell_as_jupyter_shows_it():
    nb = nbformat.v4.new_notebook(
        cells=[_md("# Q4"), _code("X.shape", _result("(73908, 506)"), count=13)]
    )
    answer = shown_answers(nb, PRACTICE)["q4"]
    assert (answer.value, answer.cell, answer.text) == (506, "In [13]", "(73908, 506)")
    assert cell_label({"execution_count": None}, 4) == "cell 5"
