"""Loading a deal folder: real files in tmp_path, checked the way a seller reads them.

Every problem must name the file, the line (and column) and the field path, and say in a
plain sentence what form is expected. Unknown keys are warnings, never errors.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import conftest
import pytest
from dealroom.deal.loading import DealError, DealFolder, Problem, load_deal_folder, parse_deal_yaml

SLUG = "northwind-ap"
SHOWN = f"{SLUG}/deal.yml"

MINIMAL = """\
customer: Northwind
seller: Acme
stage: 3
step: learn
"""

# Two stakeholders, one per side; sections are appended below line 13.
PEOPLE = (
    MINIMAL
    + """\
stakeholders:
  - name: Maria Chen
    title: VP Finance Operations
    side: buyer
    role: champion
  - name: Sam Seller
    title: Account Executive
    side: seller
    role: account executive
"""
)


# --- helpers ---------------------------------------------------------------------------


def write_deal(
    tmp_path: Path, text: str, slug: str = SLUG, files: dict[str, str] | None = None
) -> Path:
    return conftest.write_deal(tmp_path / "deals", slug, text, files)


def load(tmp_path: Path, text: str, **kwargs) -> DealFolder:
    folder = write_deal(tmp_path, text, **kwargs)
    return load_deal_folder(folder, tmp_path / "deals")


def errors(tmp_path: Path, text: str, **kwargs) -> list[Problem]:
    folder = write_deal(tmp_path, text, **kwargs)
    with pytest.raises(DealError) as info:
        load_deal_folder(folder, tmp_path / "deals")
    assert info.value.slug == folder.name
    assert info.value.problems, "a DealError must list at least one problem"
    return info.value.problems


def parse_file(tmp_path: Path, text: str) -> tuple:
    """parse_deal_yaml on a real deal.yml, for the warnings a failing deal also has."""
    folder = write_deal(tmp_path, text)
    return parse_deal_yaml((folder / "deal.yml").read_text(encoding="utf-8"), SHOWN)


def line_of(text: str, snippet: str) -> int:
    """1-based line of the only line of `text` containing `snippet`."""
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if snippet in line]
    assert len(lines) == 1, f"{snippet!r} must occur on exactly one line, found {lines}"
    return lines[0]


def points_at(text: str, problem: Problem, key: str, value: str) -> None:
    """The problem's line and column land on `key:` or on its `value` on that line."""
    assert problem.line is not None and problem.column is not None, problem
    line = text.splitlines()[problem.line - 1]
    rest = line[problem.column - 1 :]
    assert rest.startswith(f"{key}:") or rest.startswith(value), (problem, line)


def only(problems: list[Problem], field: str) -> Problem:
    matching = [problem for problem in problems if problem.field == field]
    assert len(matching) == 1, f"expected one problem for {field!r}, got {problems}"
    return matching[0]


_EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b")
_PYTHON_NOISE = (
    "Traceback",
    'File "',
    "pydantic",
    "errors.pydantic.dev",
    "For further information",
    "input_value=",
    "input_type=",
    "type=",
    "Value error",
    "<class",
    "NoneType",
)


def assert_plain(problem: Problem) -> None:
    """A message a seller can read: one plain sentence, no Python internals."""
    message = problem.message
    assert message.strip(), problem
    assert "\n" not in message, problem
    assert not _EXCEPTION_NAME.search(message), problem
    for noise in _PYTHON_NOISE:
        assert noise not in message, problem


# --- a valid deal ----------------------------------------------------------------------


def test_minimal_deal_loads(tmp_path: Path) -> None:
    loaded = load(tmp_path, MINIMAL)
    assert loaded.slug == SLUG
    assert loaded.path == tmp_path / "deals" / SLUG
    assert loaded.deal.customer.name == "Northwind"
    assert loaded.deal.seller.name == "Acme"
    assert loaded.deal.stage == 3
    assert loaded.deal.step == "learn"
    assert loaded.deal.currency == "USD"
    assert loaded.deal.decision.status == "open"
    assert loaded.deal.stakeholders == []
    assert loaded.warnings == []
    assert loaded.narrative == {}
    assert loaded.context_pages == {}
    assert loaded.assets == []


def test_deal_with_people_plan_and_pages_loads(tmp_path: Path) -> None:
    text = (
        PEOPLE
        + """\
compelling_event:
  date: 2027-04-01
  reason: new ERP goes live
mutual_action_plan:
  steps:
    - title: Security review
      owner: IT security team
      side: buyer
      due: 2027-01-15
    - title: Proposal
      owner: Sam Seller
      due: 2027-02-01
"""
    )
    loaded = load(
        tmp_path,
        text,
        files={
            "business-case.md": "# Business case\n",
            "approach.md": "# Approach\n",
            "context/security.md": "# Security\n",
            "assets/diagram.png": "png",
        },
    )
    deal = loaded.deal
    assert [person.name for person in deal.stakeholders] == ["Maria Chen", "Sam Seller"]
    assert deal.compelling_event is not None
    assert deal.compelling_event.date == dt.date(2027, 4, 1)
    steps = deal.mutual_action_plan.steps
    assert [deal.side_of(step) for step in steps] == ["buyer", "seller"]
    assert loaded.narrative == {
        "business-case.md": "# Business case\n",
        "approach.md": "# Approach\n",
    }
    assert loaded.context_pages == {"context/security.md": "# Security\n"}
    assert loaded.assets == ["assets/diagram.png"]
    assert loaded.warnings == []


# --- invalid YAML ----------------------------------------------------------------------


def test_invalid_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    text = "customer: Northwind\nseller: Acme\n  stage: 3\nstep: learn\n"
    [problem] = errors(tmp_path, text)
    assert problem.file == SHOWN
    assert problem.line == 3
    assert problem.column == 8  # the ':' after the wrongly indented 'stage'
    assert problem.message.startswith("invalid YAML: ")
    assert "indentation" in problem.message
    assert str(problem).startswith(f"{SHOWN}:3:8: invalid YAML")
    assert_plain(problem)


def test_invalid_yaml_on_a_later_line(tmp_path: Path) -> None:
    text = MINIMAL + "summary: Because: reasons\n"
    [problem] = errors(tmp_path, text)
    assert (problem.file, problem.line, problem.column) == (SHOWN, 5, 17)
    assert "mapping values are not allowed" in problem.message
    assert_plain(problem)


def test_yaml_that_is_not_a_mapping_is_a_problem(tmp_path: Path) -> None:
    [problem] = errors(tmp_path, "- customer: Northwind\n- seller: Acme\n")
    assert problem.file == SHOWN
    assert "mapping" in problem.message
    assert_plain(problem)


# --- missing required fields -----------------------------------------------------------


def test_missing_top_level_field_names_it_and_points_at_the_document(tmp_path: Path) -> None:
    [problem] = errors(tmp_path, MINIMAL.replace("stage: 3\n", ""))
    assert problem.field == "stage"
    assert problem.file == SHOWN
    assert (problem.line, problem.column) == (1, 1)  # the parent is the whole document
    assert "required field is missing" in problem.message
    assert "stage: 3" in problem.message  # the field's example
    assert_plain(problem)


def test_missing_field_of_a_list_item_points_at_the_item(tmp_path: Path) -> None:
    text = PEOPLE.replace("    role: account executive\n", "")
    [problem] = errors(tmp_path, text)
    assert problem.field == "stakeholders[1].role"
    assert problem.line == line_of(text, "- name: Sam Seller")
    assert problem.column == 5  # where the item's mapping starts, after '- '
    assert "required field is missing" in problem.message
    assert "role in the deal" in problem.message  # the field description
    assert_plain(problem)


def test_contact_marks_a_seller_and_is_refused_on_the_buyer_side(tmp_path: Path) -> None:
    text = PEOPLE.replace("    role: champion\n", "    role: champion\n    contact: true\n")
    [problem] = errors(tmp_path, text)
    assert problem.field == "stakeholders[0]"
    assert problem.line == line_of(text, "- name: Maria Chen")
    assert "seller-side person buyers should ask" in problem.message
    assert_plain(problem)
    extra = "  - name: Kim Engineer\n    title: Solution Engineer\n    side: seller\n"
    extra += "    role: solution engineer\n    contact: true\n"
    assert load(tmp_path / "b", PEOPLE + extra).deal.seller_contact.name == "Kim Engineer"
    assert load(tmp_path / "c", PEOPLE).deal.seller_contact.name == "Sam Seller"  # the AE
    assert load(tmp_path / "d", MINIMAL).deal.seller_contact is None
    twice = PEOPLE + extra + extra.replace("Kim Engineer", "Lee Engineer")
    [problem] = errors(tmp_path / "e", twice)
    assert problem.field == "stakeholders[3].contact"
    assert "Kim Engineer is already the contact" in problem.message


def test_missing_field_of_a_nested_mapping_points_at_the_mapping(tmp_path: Path) -> None:
    text = MINIMAL + "compelling_event:\n  reason: new ERP goes live\n"
    [problem] = errors(tmp_path, text)
    assert problem.field == "compelling_event.date"
    assert problem.line == line_of(text, "compelling_event:")
    assert "YYYY-MM-DD" in problem.message
    assert_plain(problem)


# --- wrongly typed fields --------------------------------------------------------------


def test_date_that_is_not_a_date(tmp_path: Path) -> None:
    text = (
        PEOPLE
        + """\
mutual_action_plan:
  steps:
    - title: Kickoff
      owner: Maria Chen
      due: soon
"""
    )
    [problem] = errors(tmp_path, text)
    assert problem.field == "mutual_action_plan.steps[0].due"
    assert problem.line == line_of(text, "due: soon")
    points_at(text, problem, "due", "soon")
    assert "YYYY-MM-DD" in problem.message
    assert "'soon'" in problem.message
    assert_plain(problem)


def test_amount_with_currency_symbol(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """\
business_case:
  cost_of_inaction:
    - item: Manual invoice handling
      amount: "€480k"
"""
    )
    [problem] = errors(tmp_path, text)
    assert problem.field == "business_case.cost_of_inaction[0].amount"
    assert problem.line == line_of(text, "amount:")
    points_at(text, problem, "amount", '"€480k"')
    assert "without currency symbols" in problem.message
    assert "480000" in problem.message  # an example of the expected form
    assert "€480k" in problem.message
    assert_plain(problem)


def test_stage_out_of_range(tmp_path: Path) -> None:
    text = MINIMAL.replace("stage: 3", "stage: 7")
    [problem] = errors(tmp_path, text)
    assert problem.field == "stage"
    assert problem.line == line_of(text, "stage: 7")
    points_at(text, problem, "stage", "7")
    assert "5" in problem.message  # the bound it has to respect
    assert "7" in problem.message
    assert_plain(problem)


def test_stage_that_is_not_a_number(tmp_path: Path) -> None:
    text = MINIMAL.replace("stage: 3", "stage: three")
    [problem] = errors(tmp_path, text)
    assert problem.field == "stage"
    assert problem.line == line_of(text, "stage: three")
    assert "whole number" in problem.message
    assert_plain(problem)


def test_currency_that_is_not_a_code(tmp_path: Path) -> None:
    text = MINIMAL + "currency: euro\n"
    [problem] = errors(tmp_path, text)
    assert problem.field == "currency"
    assert problem.line == line_of(text, "currency: euro")
    assert "ISO 4217" in problem.message
    assert_plain(problem)


@pytest.mark.parametrize("written", ["2027-02-30", "2027-13-01"])
def test_impossible_calendar_date_is_a_problem_not_a_crash(tmp_path: Path, written: str) -> None:
    text = MINIMAL + f"go_live: {written}\n"
    problems = errors(tmp_path, text)  # a DealError, not a ValueError from PyYAML
    assert [problem.line for problem in problems] == [line_of(text, "go_live:")]
    assert problems[0].file == SHOWN
    assert written in problems[0].message
    assert_plain(problems[0])


# --- vocabularies ----------------------------------------------------------------------


def test_vocabulary_typo_suggests_nearest_value(tmp_path: Path) -> None:
    text = PEOPLE.replace("side: buyer", "side: buyr")
    [problem] = errors(tmp_path, text)
    assert problem.field == "stakeholders[0].side"
    assert problem.line == line_of(text, "side: buyr")
    points_at(text, problem, "side", "buyr")
    assert "did you mean 'buyer'?" in problem.message
    assert "'seller'" in problem.message  # the allowed values are listed
    assert_plain(problem)


def test_plan_status_typo_suggests_nearest_value(tmp_path: Path) -> None:
    text = (
        PEOPLE
        + """\
mutual_action_plan:
  steps:
    - title: Kickoff
      owner: Maria Chen
      due: 2027-01-15
      status: dun
"""
    )
    [problem] = errors(tmp_path, text)
    assert problem.field == "mutual_action_plan.steps[0].status"
    assert problem.line == line_of(text, "status: dun")
    assert "did you mean 'done'?" in problem.message


@pytest.mark.parametrize("written", ["In_Progress", "in-progress", "IN PROGRESS", "in  progress"])
def test_vocabulary_values_are_normalised(tmp_path: Path, written: str) -> None:
    text = (
        PEOPLE.replace("side: buyer", "side: Buyer").replace("role: champion", "role: Champion")
        + f"""\
business_case:
  cost_of_inaction:
    - item: Late fees
      amount: 1000
      per: Month
mutual_action_plan:
  steps:
    - title: Kickoff
      owner: Maria Chen
      due: 2027-01-15
      status: {written}
"""
    )
    deal = load(tmp_path, text).deal
    assert deal.mutual_action_plan.steps[0].status == "in progress"
    assert deal.stakeholders[0].side == "buyer"
    assert deal.stakeholders[0].role == "champion"
    assert deal.business_case.cost_of_inaction[0].per == "month"


def test_multi_word_role_is_normalised(tmp_path: Path) -> None:
    text = PEOPLE.replace("role: champion", "role: Economic_Buyer")
    assert load(tmp_path, text).deal.stakeholders[0].role == "economic buyer"


@pytest.mark.parametrize("status", ["yes", "no"])
def test_decision_yes_and_no_can_be_written_unquoted(tmp_path: Path, status: str) -> None:
    text = MINIMAL + f"decision:\n  status: {status}\n  why: next fiscal year\n"
    assert load(tmp_path, text).deal.decision.status == status


@pytest.mark.parametrize("written", ['"70%"', "70%", '"70 %"', "70"])
def test_avoidable_percent_accepts_a_percent_sign(tmp_path: Path, written: str) -> None:
    text = (
        MINIMAL
        + f"""\
business_case:
  cost_of_inaction:
    - item: Manual work
      amount: 1000
      avoidable_percent: {written}
"""
    )
    item = load(tmp_path, text).deal.business_case.cost_of_inaction[0]
    assert item.avoidable_percent == 70
    assert item.avoidable_fraction == pytest.approx(0.7)


def test_avoidable_percent_above_100_is_an_error(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """\
business_case:
  cost_of_inaction:
    - item: Manual work
      amount: 1000
      avoidable_percent: 170%
"""
    )
    [problem] = errors(tmp_path, text)
    assert problem.field == "business_case.cost_of_inaction[0].avoidable_percent"
    assert problem.line == line_of(text, "avoidable_percent:")
    assert "100" in problem.message
    assert_plain(problem)


# --- unknown keys ----------------------------------------------------------------------


def test_unknown_top_level_key_is_a_warning_with_suggestion(tmp_path: Path) -> None:
    text = PEOPLE.replace("stakeholders:", "stakholders:")
    loaded = load(tmp_path, text)  # still loads
    [warning] = loaded.warnings
    assert warning.field == "stakholders"
    assert warning.file == SHOWN
    assert warning.line == line_of(text, "stakholders:")
    assert warning.column == 1  # a block value: the key is where to look
    assert "did you mean 'stakeholders'?" in warning.message
    assert loaded.deal.stakeholders == []  # the misspelt block is ignored
    assert_plain(warning)


def test_unknown_key_inside_a_list_item_is_a_warning(tmp_path: Path) -> None:
    text = PEOPLE + "    emial: sam@acme.example\n"
    loaded = load(tmp_path, text)
    [warning] = loaded.warnings
    assert warning.field == "stakeholders[1].emial"
    assert warning.line == line_of(text, "emial:")
    points_at(text, warning, "emial", "sam@acme.example")
    assert "did you mean 'email'?" in warning.message
    assert loaded.deal.stakeholders[1].email is None


def test_misspelt_required_key_warns_with_suggestion(tmp_path: Path) -> None:
    text = PEOPLE.replace("title: Account Executive", "titel: Account Executive")
    deal, problems, warnings = parse_file(tmp_path, text)
    assert deal is None  # 'title' itself is now missing
    assert [problem.field for problem in problems] == ["stakeholders[1].title"]
    [warning] = warnings
    assert warning.field == "stakeholders[1].titel"
    assert warning.line == line_of(text, "titel:")
    assert "did you mean 'title'?" in warning.message
    assert warning not in problems  # a warning, not an error


def test_unknown_title_key_beside_title_is_only_a_warning(tmp_path: Path) -> None:
    text = PEOPLE + "    titel: AE\n"
    loaded = load(tmp_path, text)
    assert loaded.deal.stakeholders[1].title == "Account Executive"
    [warning] = loaded.warnings
    assert warning.field == "stakeholders[1].titel"
    assert "did you mean 'title'?" in warning.message


def test_failing_deal_still_reports_the_did_you_mean_hint(tmp_path: Path) -> None:
    text = PEOPLE.replace("title: Account Executive", "titel: Account Executive")
    folder = write_deal(tmp_path, text)
    with pytest.raises(DealError) as info:
        load_deal_folder(folder, tmp_path / "deals")
    reported = [*info.value.problems, *getattr(info.value, "warnings", [])]
    assert any("did you mean 'title'?" in problem.message for problem in reported)


def test_unknown_key_without_close_match_lists_known_keys(tmp_path: Path) -> None:
    text = MINIMAL + "zzzz: 1\n"
    [warning] = load(tmp_path, text).warnings
    assert warning.field == "zzzz"
    assert "known keys:" in warning.message
    assert "customer" in warning.message
    assert "did you mean" not in warning.message


def test_internal_notes_are_free_form(tmp_path: Path) -> None:
    text = MINIMAL + "internal:\n  anything: goes\n  pricing_floor: 300000\n"
    loaded = load(tmp_path, text)
    assert loaded.warnings == []


# --- cross-field rules -----------------------------------------------------------------


def test_plan_owner_not_a_stakeholder_needs_a_side(tmp_path: Path) -> None:
    text = (
        PEOPLE
        + """\
mutual_action_plan:
  steps:
    - title: Kickoff
      owner: Maria Chen
      due: 2027-01-15
    - title: Security review
      owner: IT team
      due: 2027-02-01
"""
    )
    [problem] = errors(tmp_path, text)
    assert problem.field == "mutual_action_plan.steps[1].owner"
    assert problem.line == line_of(text, "owner: IT team")
    points_at(text, problem, "owner", "IT team")
    assert "'IT team'" in problem.message
    assert "side" in problem.message
    assert_plain(problem)


def test_plan_owner_not_a_stakeholder_with_side_is_fine(tmp_path: Path) -> None:
    text = (
        PEOPLE
        + """\
mutual_action_plan:
  steps:
    - title: Security review
      owner: IT team
      side: buyer
      due: 2027-02-01
"""
    )
    deal = load(tmp_path, text).deal
    assert deal.side_of(deal.mutual_action_plan.steps[0]) == "buyer"


def test_side_contradicting_the_owner(tmp_path: Path) -> None:
    text = (
        PEOPLE
        + """\
mutual_action_plan:
  steps:
    - title: Kickoff
      owner: Maria Chen
      side: seller
      due: 2027-01-15
"""
    )
    [problem] = errors(tmp_path, text)
    assert problem.field == "mutual_action_plan.steps[0].side"
    assert problem.line == 18  # the plan step's 'side', not Sam Seller's (line 12)
    points_at(text, problem, "side", "seller")
    assert "Maria Chen" in problem.message
    assert "buyer" in problem.message
    assert_plain(problem)


def test_duplicate_stakeholder_names(tmp_path: Path) -> None:
    text = PEOPLE + "  - name: Maria Chen\n    title: CFO\n    side: buyer\n    role: finance\n"
    [problem] = errors(tmp_path, text)
    assert problem.field == "stakeholders[2].name"
    assert problem.line == 14  # the second 'Maria Chen', not the first (line 6)
    points_at(text, problem, "name", "Maria Chen")
    assert "'Maria Chen'" in problem.message
    assert "twice" in problem.message
    assert_plain(problem)


def test_priority_owner_not_a_stakeholder(tmp_path: Path) -> None:
    text = (
        PEOPLE
        + """\
business_case:
  priority:
    initiative: Finance 2030
    owner: Bob Boss
"""
    )
    [problem] = errors(tmp_path, text)
    assert problem.field == "business_case.priority.owner"
    assert problem.line == line_of(text, "owner: Bob Boss")
    points_at(text, problem, "owner", "Bob Boss")
    assert "'Bob Boss'" in problem.message
    assert_plain(problem)


def test_contributor_not_a_stakeholder(tmp_path: Path) -> None:
    text = PEOPLE + "business_case:\n  contributors:\n    - Maria Chen\n    - Mario Chen\n"
    [problem] = errors(tmp_path, text)
    assert problem.field == "business_case.contributors[1]"
    assert problem.line == line_of(text, "- Mario Chen")


def test_role_must_fit_the_side(tmp_path: Path) -> None:
    text = PEOPLE.replace("role: account executive", "role: champion")
    [problem] = errors(tmp_path, text)
    assert problem.field == "stakeholders[1]"
    assert problem.line == line_of(text, "- name: Sam Seller")
    assert "seller-side role" in problem.message
    assert_plain(problem)


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    text = (
        PEOPLE.replace("stage: 3", "stage: 9").replace("side: buyer", "side: buyr")
        + "go_live: soon\n"
    )
    problems = errors(tmp_path, text)
    assert {problem.field for problem in problems} == {"stage", "stakeholders[0].side", "go_live"}


# --- no Python internals in messages ---------------------------------------------------

BAD_DEALS = {
    "yaml": "customer: Northwind\nseller: 'Acme\nstage: 3\n",
    "tab": "customer: Northwind\n\tseller: Acme\n",
    "missing": "customer: Northwind\n",
    "types": MINIMAL.replace("stage: 3", "stage: 3.5") + "go_live: tomorrow\ndeal_value: lots\n",
    "bool": MINIMAL + "business_case:\n  capabilities:\n    - name: OCR\n      must_have: maybe\n",
    "list": MINIMAL + "stakeholders: Maria Chen\n",
    "mapping": MINIMAL + "business_case: none yet\n",
    "empty item": MINIMAL + "stakeholders:\n  -\n",
    "empty text": MINIMAL.replace("customer: Northwind", 'customer: ""'),
    "decision": MINIMAL + "decision:\n  status: later\n",
    "recurring once": MINIMAL
    + "business_case:\n  investment:\n    recurring:\n"
    + "      - item: Setup\n        amount: 1\n        per: once\n",
    "completed": PEOPLE
    + "mutual_action_plan:\n  steps:\n    - title: A\n      owner: Maria Chen\n"
    + "      due: 2027-01-01\n      completed: 2027-01-02\n",
    "horizon": MINIMAL + "business_case:\n  investment:\n    horizon_years: 40\n",
    "datetime": MINIMAL + "go_live: 2027-01-01 10:30:00\n",
}


@pytest.mark.parametrize("text", BAD_DEALS.values(), ids=BAD_DEALS.keys())
def test_problems_are_plain_sentences(tmp_path: Path, text: str) -> None:
    folder = write_deal(tmp_path, text)
    with pytest.raises(DealError) as info:
        load_deal_folder(folder, tmp_path / "deals")
    for problem in info.value.problems:
        assert problem.file == SHOWN
        assert problem.line is not None, problem
        assert_plain(problem)
    for line in str(info.value).splitlines():
        assert line.startswith(f"{SHOWN}:"), line


# --- folder-level rules ----------------------------------------------------------------


@pytest.mark.parametrize("slug", ["Northwind", "northwind_ap", "-northwind", "north wind"])
def test_bad_slug_is_an_error(tmp_path: Path, slug: str) -> None:
    problems = errors(tmp_path, MINIMAL, slug=slug)
    [problem] = problems
    assert problem.file == slug  # the folder, shown relative to deals/
    assert f"'{slug}'" in problem.message
    assert "lowercase" in problem.message
    assert_plain(problem)


@pytest.mark.parametrize("slug", ["assets", "search", "dealroom", "404"])
def test_reserved_slug_is_an_error(tmp_path: Path, slug: str) -> None:
    [problem] = errors(tmp_path, MINIMAL, slug=slug)
    assert problem.file == slug
    assert f"'{slug}'" in problem.message


@pytest.mark.parametrize("slug", ["northwind-ap", "acme2", "a", "2027-renewal"])
def test_good_slugs_load(tmp_path: Path, slug: str) -> None:
    assert load(tmp_path, MINIMAL, slug=slug).slug == slug


def test_slug_with_trailing_newline_is_an_error(tmp_path: Path) -> None:
    errors(tmp_path, MINIMAL, slug="northwind\n")


def test_bad_slug_and_bad_yaml_are_both_reported(tmp_path: Path) -> None:
    problems = errors(tmp_path, MINIMAL.replace("stage: 3", "stage: 9"), slug="Assets")
    assert sorted(problem.file for problem in problems) == ["Assets", "Assets/deal.yml"]


def test_internal_folder_is_never_collected(tmp_path: Path) -> None:
    secret = "pricing floor 300k"
    loaded = load(
        tmp_path,
        MINIMAL,
        files={
            "business-case.md": "# Case\n",
            "internal/notes.md": secret,
            "internal/pricing.png": secret,
            "internal/context/x.md": secret,
        },
    )
    collected = [*loaded.narrative, *loaded.context_pages, *loaded.assets]
    assert collected == ["business-case.md"]
    assert all(secret not in text for text in [*loaded.narrative.values()])
    assert all(secret not in text for text in [*loaded.context_pages.values()])
    assert loaded.warnings == []  # internal/ is the right place, so no warning


def test_stray_root_markdown_is_not_collected_and_warns(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        MINIMAL,
        files={"approach.md": "# Approach\n", "notes.md": "seller notes", "README.md": "x"},
    )
    assert loaded.narrative == {"approach.md": "# Approach\n"}
    assert loaded.context_pages == {}
    assert sorted(warning.file for warning in loaded.warnings) == [
        f"{SLUG}/README.md",
        f"{SLUG}/notes.md",
    ]
    for warning in loaded.warnings:
        assert "is not published" in warning.message
        assert "internal/" in warning.message
        assert_plain(warning)


def test_only_markdown_directly_in_context_is_collected(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        MINIMAL,
        files={"context/security.md": "# S\n", "context/raw.txt": "x", "context/old/a.md": "x"},
    )
    assert loaded.context_pages == {"context/security.md": "# S\n"}


def test_context_symlink_outside_the_deal_is_an_error(tmp_path: Path) -> None:
    outside = tmp_path / "secret.md"
    outside.write_text("TOP SECRET", encoding="utf-8")
    folder = write_deal(tmp_path, MINIMAL, files={"context/security.md": "# S\n"})
    os.symlink(outside, folder / "context" / "leak.md")
    with pytest.raises(DealError) as info:
        load_deal_folder(folder, tmp_path / "deals")
    [problem] = info.value.problems
    assert problem.file == f"{SLUG}/context/leak.md"
    assert "outside the deal folder" in problem.message
    assert "TOP SECRET" not in str(info.value)
    assert_plain(problem)


def test_context_symlink_into_another_deal_is_an_error(tmp_path: Path) -> None:
    other = write_deal(tmp_path, MINIMAL, slug=f"{SLUG}-old", files={"context/x.md": "other"})
    folder = write_deal(tmp_path, MINIMAL)
    (folder / "context").mkdir()
    os.symlink(other / "context" / "x.md", folder / "context" / "x.md")
    with pytest.raises(DealError) as info:
        load_deal_folder(folder, tmp_path / "deals")
    assert [problem.file for problem in info.value.problems] == [f"{SLUG}/context/x.md"]


def test_context_folder_symlinked_outside_is_an_error(tmp_path: Path) -> None:
    outside = tmp_path / "shared-context"
    outside.mkdir()
    (outside / "a.md").write_text("shared", encoding="utf-8")
    folder = write_deal(tmp_path, MINIMAL)
    os.symlink(outside, folder / "context", target_is_directory=True)
    with pytest.raises(DealError) as info:
        load_deal_folder(folder, tmp_path / "deals")
    assert [problem.file for problem in info.value.problems] == [f"{SLUG}/context"]


def test_asset_symlink_outside_the_deal_is_an_error(tmp_path: Path) -> None:
    outside = tmp_path / "logo.png"
    outside.write_text("png", encoding="utf-8")
    folder = write_deal(tmp_path, MINIMAL, files={"assets/ok.png": "png"})
    os.symlink(outside, folder / "assets" / "logo.png")
    with pytest.raises(DealError) as info:
        load_deal_folder(folder, tmp_path / "deals")
    assert [problem.file for problem in info.value.problems] == [f"{SLUG}/assets/logo.png"]


def test_symlink_within_the_deal_folder_is_allowed(tmp_path: Path) -> None:
    folder = write_deal(tmp_path, MINIMAL, files={"business-case.md": "# Case\n"})
    (folder / "context").mkdir()
    os.symlink(folder / "business-case.md", folder / "context" / "case.md")
    loaded = load_deal_folder(folder, tmp_path / "deals")
    assert loaded.context_pages == {"context/case.md": "# Case\n"}


def test_deal_yml_with_byte_order_mark_loads(tmp_path: Path) -> None:
    folder = write_deal(tmp_path, MINIMAL)
    (folder / "deal.yml").write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode("utf-8"))
    assert load_deal_folder(folder).deal.customer.name == "Northwind"


def test_deal_yml_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    folder = write_deal(tmp_path, MINIMAL)
    (folder / "deal.yml").write_bytes(MINIMAL.replace("Northwind", "Zürich AG").encode("latin-1"))
    with pytest.raises(DealError) as info:
        load_deal_folder(folder, tmp_path / "deals")
    [problem] = info.value.problems
    assert problem.file == SHOWN
    assert "UTF-8" in problem.message
    assert_plain(problem)


def test_context_page_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    folder = write_deal(tmp_path, MINIMAL, files={"context/ok.md": "# OK\n"})
    (folder / "context" / "legacy.md").write_bytes("Zürich".encode("latin-1"))
    with pytest.raises(DealError) as info:
        load_deal_folder(folder, tmp_path / "deals")
    [problem] = info.value.problems
    assert problem.file == f"{SLUG}/context/legacy.md"
    assert_plain(problem)


# --- YAML that could make loading slow, huge or ambiguous -------------------------------

REFUSED_YAML = {
    # text after MINIMAL -> (line, column, field, message start)
    "alias": ("notes: &n [a]\ninternal: *n\n", (5, 8, "notes", "anchors and aliases")),
    "recursive": ("internal: &a [*a]\n", (5, 11, "internal", "anchors and aliases")),
    "merge": ("internal:\n  <<: {a: 1}\n  b: &x 2\n", (7, 6, "internal.b", "anchors")),
    "complex-key": ("? [a, b]\n: c\n", (5, 3, "", "a key must be a plain name")),
    "mapping-key": ("internal:\n  ? {a: 1}\n  : c\n", (6, 5, "internal", "a key must")),
    "deep": ("internal: " + "[" * 30 + "]" * 30 + "\n", (5, 34, "internal[0][0]", "nested")),
    "duplicate": (
        "summary: a\nsummary: b\n",
        (6, 1, "summary", "duplicate key 'summary': it is also on line 5"),
    ),
    "nested-duplicate": (
        "business_case:\n  problem:\n    statement: a\n    statement: b\n",
        (
            8,
            5,
            "business_case.problem.statement",
            "duplicate key 'statement': it is also on line 7",
        ),
    ),
    "python-tag": ("summary: !!python/name:os.system\n", (5, 10, "summary", "tags such as")),
    "huge-int": ("deal_value: " + "9" * 5000 + "\n", (5, 13, "deal_value", "not a usable number")),
}


@pytest.mark.parametrize("text, where", REFUSED_YAML.values(), ids=REFUSED_YAML.keys())
def test_yaml_that_could_blow_up_is_refused_with_line_and_field(
    tmp_path: Path, text: str, where: tuple
) -> None:
    [problem] = errors(tmp_path, MINIMAL + text)
    line, column, field, message = where
    assert (problem.line, problem.column, problem.field) == (line, column, field), problem
    assert problem.message.startswith(message), problem
    assert_plain(problem)


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    # Nine levels of nine aliases each: 387 million strings if expanded.
    levels = "".join(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]\n" for n in range(1, 9))
    [problem] = errors(tmp_path, MINIMAL + "l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + levels)
    assert problem.line == 5 and "anchors and aliases" in problem.message


def test_front_matter_is_read_with_the_same_bounds_and_gives_the_title(tmp_path: Path) -> None:
    loaded = load(
        tmp_path, MINIMAL, files={"context/it.md": "---\ntitle: IT and security\n---\n# Other\n"}
    )
    assert loaded.titles == {"context/it.md": "IT and security"}
    assert loaded.context_pages == {"context/it.md": "# Other\n"}
    [problem] = errors(tmp_path, MINIMAL, files={"context/x.md": "---\na: 1\na: 2\n---\n"})
    assert (problem.file, problem.line) == (f"{SLUG}/context/x.md", 3)
    assert "duplicate key 'a'" in problem.message


# --- the confinement rule ----------------------------------------------------------------


def test_the_rule_publishes_only_published_paths_by_their_real_location(tmp_path: Path) -> None:
    from dealroom.deal.files import DealFiles, Refused

    folder = write_deal(tmp_path, MINIMAL, files={
        "approach.md": "a", "business-case.md": "b", "context/legal.md": "c",
        "assets/d/x.png": "x", "internal/n.md": "n", "notes.md": "s", "access.yml": "v",
    })  # fmt: skip
    links = {
        "context/to-approach.md": "../approach.md",  # inside, to a published file
        "assets/to-internal.png": "../internal/n.md",
        "context/to-deal.md": "../deal.yml",
        "context/to-access.md": "../access.yml",
        "context/to-stray.md": "../notes.md",
        "context/to-asset.md": "../assets/d/x.png",
        "assets/to-page.md": "../approach.md",
        "assets/to-outside.txt": str(tmp_path),
    }
    for name, target in links.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).symlink_to(target)
    files = DealFiles.of(folder)
    allowed = ["approach.md", "business-case.md", "context/legal.md", "assets/d/x.png",
               "context/to-approach.md", "context/../approach.md"]  # fmt: skip
    for name in allowed:
        assert files.published(name).is_relative_to(folder.resolve()), name
    refused = {
        "deal.yml": "is a file that is never published",
        "access.yml": "is a file that is never published",
        "internal/n.md": "is a file that is seller-only",
        "notes.md": "is a file that is not published",
        "assets/to-internal.png": "points to internal/n.md, which is seller-only",
        "context/to-deal.md": "points to deal.yml, which is never published",
        "context/to-access.md": "points to access.yml, which is never published",
        "context/to-stray.md": "points to notes.md, which is not published",
        "context/to-asset.md": "points to assets/d/x.png, which is an asset, not a page",
        "assets/to-page.md": "points to approach.md, which is a page, not an asset",
        "assets/to-outside.txt": "points outside the deal folder",
        "..": "points outside the deal folder",
        "/etc/passwd": "points outside the deal folder",
        "assets/d": "is not a regular file",
        "context/none.md": "does not exist",
    }
    for name, reason in refused.items():
        with pytest.raises(Refused, match=re.escape(reason)):
            files.published(name)


def test_a_flood_of_mistakes_is_reported_as_its_first_fifty(tmp_path: Path) -> None:
    text = MINIMAL + "".join(f"extra_{n}: x\n" for n in range(5_000))
    loaded = load(tmp_path, text)
    assert len(loaded.warnings) == 51
    assert loaded.warnings[49].field == "extra_49" and loaded.warnings[49].line == 54
    assert loaded.warnings[50].message == "... and more unknown keys like these"
    steps = "".join(f"  - {{title: s{n}, owner: Nobody{n}, due: 2027-01-01}}\n" for n in range(500))
    problems = errors(
        tmp_path, MINIMAL + "mutual_action_plan:\n steps:\n" + steps.replace("  -", "   -")
    )
    assert len(problems) == 51 and problems[-1].message == "... and 450 more like these"
