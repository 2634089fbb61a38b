"""The grader plugin end to end: points, feedback, student vs grader failures."""

import pytest

from grader.plugin import GraderPlugin
from grader.student import LocalStudent

GRADER = '''
import pytest
from grader.expect import expect_close

@pytest.mark.points(2)
def test_add(student):
    """add: small numbers"""
    expect_close(student.add(1, 2), 3, what="add(1, 2)")

@pytest.mark.points(1.5, visibility="after_due_date")
def test_add_floats(student, rng):
    x = rng.normal()
    expect_close(student.add(x, 1.0), x + 1.0, what="add(x, 1.0)")

@pytest.mark.points(1, hide_output=True)
def test_secret(student):
    assert student.add(2, 2) == 4, "add(2, 2) is not 4"

@pytest.mark.points(1)
def test_with_praise(student, record_property):
    assert student.add(0, 0) == 0, "add(0, 0) is not 0"
    record_property("feedback", "0 + 0 handled")

@pytest.mark.points(1)
def test_grader_bug(student):
    {}["missing"]
'''


def grade(pytester, source, namespace):
    pytester.makepyfile(test_grader=GRADER)
    plugin = GraderPlugin(lambda: LocalStudent(namespace))
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--assert=plain", plugins=[plugin])
    return {t.name: t for t in plugin.take_results()}


def run_add(body):
    namespace = {}
    exec(f"def add(a, b):\n    {body}", namespace)  # noqa: S102 (test code, not a student's)
    return namespace


def test_correct_code_earns_every_point_but_the_grader_bug(pytester):
    results = grade(pytester, GRADER, run_add("return a + b"))
    assert results["add: small numbers"].score == 2
    assert results["add floats"].score == 1.5
    assert results["add floats"].visibility == "after_due_date"
    assert results["secret"].score == 1
    bug = results["grader bug"]
    assert bug.grader_error and bug.score == 0 and "not your fault" in bug.output


def test_wrong_code_gets_a_message_about_its_own_result(pytester):
    results = grade(pytester, GRADER, run_add("return a - b"))
    assert results["add: small numbers"].status == "failed"
    assert results["add: small numbers"].output == "add(1, 2): expected 3, got -1"
    assert not results["add: small numbers"].grader_error


def test_hide_output_keeps_the_message_from_the_student(pytester):
    results = grade(pytester, GRADER, run_add("return 0"))
    assert results["secret"].status == "failed" and results["secret"].output == ""


def test_student_exception_is_the_students_failure(pytester):
    results = grade(pytester, GRADER, run_add("raise ValueError('nope')"))
    out = results["add: small numbers"]
    assert not out.grader_error
    assert out.output.startswith("ValueError: nope (in add")


def test_missing_function_says_so(pytester):
    results = grade(pytester, GRADER, {})
    assert results["add: small numbers"].output == "add is not defined in your notebook"


def test_rng_is_the_same_on_every_run(pytester):
    seen = []
    ns = {"add": lambda a, b: seen.append(a) or a + b}
    grade(pytester, GRADER, ns)
    first = [x for x in seen if isinstance(x, float)]
    grade(pytester, GRADER, ns)
    drawn = [x for x in seen if isinstance(x, float)]
    assert len(first) == 1 and drawn == first * 2  # test_add_floats drew the same x both times


@pytest.mark.parametrize("marker", ["", "@pytest.mark.points(1)\n@pytest.mark.points(2)\n",
                                    "@pytest.mark.points(-1)\n", "@pytest.mark.points(1, visibility='secret')\n"])
def test_a_test_without_exactly_one_valid_points_marker_fails_collection(pytester, marker):
    pytester.makepyfile(test_bad=f"import pytest\n{marker}def test_x(student):\n    pass\n")
    plugin = GraderPlugin(lambda: None)
    result = pytester.runpytest_inprocess(plugins=[plugin])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_an_unfinished_stub_is_called_not_implemented_yet(pytester):
    results = grade(pytester, GRADER, run_add("raise NotImplementedError()"))
    assert results["add: small numbers"].output.startswith("not implemented yet (NotImplementedError in add")


def test_a_passing_test_can_tell_the_student_something(pytester):
    results = grade(pytester, GRADER, run_add("return a + b"))
    assert results["with praise"].status == "passed" and results["with praise"].output == "0 + 0 handled"
