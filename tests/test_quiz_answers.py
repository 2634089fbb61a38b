"""Answer-format rules: how a typed or saved answer is read, and when it counts as right."""

import pytest

from grader.quiz import answers
from grader.quiz.model import Mistake, Question


def make(kind, answer, **kw):
    base = dict(qid="q", title="t", kind=kind, prompt="p", answer=answer, explanation="e")
    if kind in ("choice", "multi"):
        base["choices"] = kw.pop("choices", ("one", "two", "three", "four"))
    return Question(**base, **kw)


@pytest.mark.parametrize("raw, value", [
    (3, 3.0), (0.75, 0.75), ("0.75", 0.75), (" 0.75 ", 0.75), ("3/4", 0.75), ("3 / 4", 0.75),
    ("-3/4", -0.75), ("75%", 0.75), ("75 %", 0.75), ("7.5e-1", 0.75), (".75", 0.75), ("+2", 2.0),
    ("1,199,882", 1199882.0), ("1 199 882", 1199882.0), ("1_000", 1000.0), ("'0.75'", 0.75),
    ("\u22120.5", -0.5), ([0.25], 0.25), ("1.5/2", 0.75), ("5.", 5.0),
])
def test_numbers_fractions_percentages_whitespace(raw, value):
    assert answers.parse_number(raw) == pytest.approx(value)


@pytest.mark.parametrize("raw", [True, None, "abc", "1/0", "nan", "inf", "1,2,3,4", "3//4", "1e999999999",
                                 "1e-999999999/1", "9" * 200, 10**400, [1, 2], {"a": 1}, float("nan")])
def test_not_numbers_are_refused_with_a_reason(raw):
    with pytest.raises(answers.AnswerFormatError):
        answers.parse_number(raw)


def test_numeric_tolerance_is_absolute_plus_relative():
    q = make("numeric", 0.6923076923, atol=1e-3)
    assert answers.check(q, "0.692").correct
    assert answers.check(q, "9/13").correct
    assert answers.check(q, "69.23%").correct
    assert not answers.check(q, "0.69").correct
    exact = make("numeric", 1199882)
    assert answers.check(exact, "1,199,882").correct and answers.check(exact, 1199882.0).correct
    assert not answers.check(exact, 1199883).correct
    rel = make("numeric", 1000.0, rtol=0.01)
    assert answers.check(rel, 1009).correct and not answers.check(rel, 1011).correct


def test_missing_unreadable_wrong_and_known_mistakes():
    q = make("numeric", 2.3, atol=0.005, mistakes=(Mistake(-1.1, "you flipped the kernel"),))
    assert answers.check(q, ...).status == "missing"
    assert answers.check(q, "  ").status == "missing"
    bad = answers.check(q, "two point three")
    assert bad.status == "unreadable" and "not a number" in bad.problem
    flipped = answers.check(q, "-1.1")
    assert flipped.status == "wrong" and flipped.why == "you flipped the kernel"
    assert answers.check(q, 7).why == ""


@pytest.mark.parametrize("raw", [
    [[1, 2], [3, 4]], ((1, 2), (3, 4)), "[[1, 2], [3, 4]]", "[[1 2]\n [3 4]]", "1 2; 3 4", "1, 2\n3, 4",
    "[[1/1, 4/2], [3, 400%]]", "np.array([[1, 2], [3, 4]])", [["1", "2"], ["3", "4"]], "((1,2),(3,4))",
])
def test_matrices_as_nested_lists_or_text(raw):
    q = make("matrix", [[1, 2], [3, 4]])
    assert answers.check(q, raw).correct, raw


@pytest.mark.parametrize("raw", ["(17, 20, 32)", "17x20x32", "17 x 20 x 32", "17 \u00d7 20 \u00d7 32",
                                 [17, 20, 32], "17, 20, 32", "17 20 32", "[17 20 32]"])
def test_shapes_as_tuples_lists_or_text(raw):
    assert answers.check(make("matrix", [17, 20, 32]), raw).correct


def test_matrix_shape_mismatch_says_what_was_expected():
    q = make("matrix", [[1, 2], [3, 4]])
    verdict = answers.check(q, [1, 2, 3, 4])
    assert verdict.status == "unreadable" and "2 x 2 matrix" in verdict.problem
    assert answers.check(q, [[1, 2], [3]]).status == "unreadable"
    assert answers.check(q, "[[1, 2], [3, x]]").status == "unreadable"
    assert answers.check(q, [[1, 2], [4, 3]]).status == "wrong"


def test_matrix_elementwise_tolerance():
    q = make("matrix", [[4.4444444444, 5.1666666667]], atol=0.006)
    assert answers.check(q, "[[4.44, 5.17]]").correct
    assert answers.check(q, "[[40/9, 31/6]]").correct
    assert not answers.check(q, "[[4.4, 5.17]]").correct


def test_oversized_or_deeply_nested_answers_are_refused_without_parsing():
    q = make("matrix", [[1, 2], [3, 4]])
    assert answers.check(q, [[0] * 1000] * 1000).status == "unreadable"
    assert answers.check(q, "1 " * 5000).status == "unreadable"
    deep = []
    for _ in range(50):
        deep = [deep]
    assert answers.check(q, deep).status == "unreadable"


@pytest.mark.parametrize("raw", ["B", "b", " (B) ", "B)", "b.", "'B'", ["B"], "two", "TWO"])
def test_one_choice_by_letter_or_text(raw):
    assert answers.check(make("choice", "B"), raw).correct


def test_choice_refuses_letters_out_of_range_and_several_letters():
    q = make("choice", "B")
    assert answers.check(q, "E").status == "unreadable"
    assert answers.check(q, "A, B").status == "unreadable"
    assert answers.check(q, "A").status == "wrong"


@pytest.mark.parametrize("raw", [["A", "C"], ("c", "a"), "A, C", "A,C", "a c", "AC", "C; A", "A and C",
                                 "[A, C]", ["A", "C", "A"], {"A", "C"}])
def test_multi_select_as_list_or_text(raw):
    assert answers.check(make("multi", ["A", "C"]), raw).correct


def test_multi_select_needs_exactly_the_true_letters():
    q = make("multi", ["A", "C"])
    assert answers.check(q, "A").status == "wrong"
    assert answers.check(q, "A, B, C").status == "wrong"
    assert answers.check(q, "none").status == "wrong"
    assert answers.check(q, "A, Z").status == "unreadable"


@pytest.mark.parametrize("raw", ["false negative", "False Negative", "  false-negative. ", "FALSE_NEGATIVE",
                                 "'false negative'", "FN", "type II error", "a false negative"])
def test_short_text_case_whitespace_and_synonyms(raw):
    q = make("text", "false negative", synonyms=("fn", "type ii error", "a false negative"))
    assert answers.check(q, raw).correct


def test_short_text_wrong_answer_and_mistake_hint():
    q = make("text", "same", mistakes=(Mistake("valid", "VALID would give (3, 3, 8)"),))
    verdict = answers.check(q, "Valid")
    assert verdict.status == "wrong" and verdict.why.startswith("VALID")
    assert answers.check(q, 12).status == "wrong"
    assert answers.check(q, [1, 2]).status == "unreadable"


def test_format_value_is_readable():
    assert answers.format_value(make("numeric", 0), 0.6923076923) == "0.692308"
    assert answers.format_value(make("matrix", [0]), [[1.0, 2.5]]) == "[[1, 2.5]]"
    assert answers.format_value(make("choice", "B"), "B") == "B) two"
    assert answers.format_value(make("multi", ["A"]), []) == "(none)"
