"""What `dealroom score` and `dealroom check --gate` print about scorecards, in the
language in use (the seller's: the plugin's `language` option), numbers written as that
language writes them."""

from __future__ import annotations

from babel.numbers import format_decimal

from ..deal.i18n import current_language
from ..deal.i18n import gettext as _
from .scoring import SECTIONS, Scorecard


def number(value: float) -> str:
    """2.4 in English, 2,4 in German; 4.0, not 4, beside 4.5."""
    return format_decimal(value, "#,##0.0#", locale=current_language())


def score_lines(cards: list[Scorecard]) -> list[str]:
    """A table of every deal's levels (columns as wide as their words), then each deal's
    gaps and next moves."""
    keys = list(SECTIONS)
    header = [_("deal"), _("stage"), _("score"), _("target"), _("result")]
    results = {True: _("pass"), False: _("BELOW")}
    rows = [[card.slug, str(card.stage), number(card.score), number(card.target),
             results[card.passed]] for card in cards]  # fmt: skip
    least = (24, 5, 5, 6, 6)  # the widths of the English table
    widths = [max(least[i], *(len(row[i]) for row in [header, *rows])) for i in range(5)]

    def line(cells: list[str], levels: list[str]) -> str:
        name, *figures, result = cells
        columns = [name.ljust(widths[0])]
        columns += [cell.rjust(width) for cell, width in zip(figures, widths[1:4], strict=True)]
        columns += [result.ljust(widths[4])] + [level.rjust(8) for level in levels]
        return " ".join(columns).rstrip()

    lines = [line(header, [key[:8] for key in keys])]
    for row, card in zip(rows, cards, strict=True):
        lines.append(line(row, [str(section.level) for section in card.sections]))
    for card in cards:
        lines += ["", _("%(deal)s: %(score)s of 5 (%(readiness)s %% ready), target %(target)s "
                        "for stage %(stage)s") % {
            "deal": card.slug, "score": number(card.score), "readiness": card.readiness,
            "target": number(card.target), "stage": card.stage,
        }]  # fmt: skip
        for section in card.sections:
            if section.caps:
                lines.append("  " + _("%(section)s at level %(level)s, capped by: %(needs)s") % {
                    "section": section.title, "level": section.level,
                    "needs": "; ".join(c.text for c in section.caps),
                })  # fmt: skip
        lines += ["  " + _("next: %(move)s") % {"move": move} for move in card.next_moves]
    return lines


def gate_lines(card: Scorecard) -> list[str]:
    """Why a deal fails its stage gate: its score against the target, and what each
    section below 5 needs next."""
    lines = [_("%(deal)s: business case %(score)s is below the stage %(stage)s target "
               "%(target)s") % {"deal": card.slug, "score": number(card.score),
                                "stage": card.stage, "target": number(card.target)}]  # fmt: skip
    for section in card.sections:
        for condition in section.caps:
            lines.append("  " + _("%(section)s (level %(level)s) needs: %(condition)s") % {
                "section": section.title, "level": section.level, "condition": condition.text,
            })  # fmt: skip
    return lines
