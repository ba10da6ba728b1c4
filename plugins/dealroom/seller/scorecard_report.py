"""What `dealroom score` and `dealroom check --gate` print about scorecards, in the
language in use (the seller's: the plugin's `language` option)."""

from __future__ import annotations

from ..deal.i18n import gettext as _
from .scoring import SECTIONS, Scorecard


def score_lines(cards: list[Scorecard]) -> list[str]:
    """A table of every deal's levels, then each deal's gaps and next moves."""
    keys = list(SECTIONS)
    deal, stage, score, target, result = (
        _("deal"), _("stage"), _("score"), _("target"), _("result")
    )  # fmt: skip
    lines = [f"{deal:<24} {stage:>5} {score:>5} {target:>6}  {result:<6}  "
             + " ".join(f"{k[:8]:>8}" for k in keys)]  # fmt: skip
    for card in cards:
        levels = " ".join(f"{s.level:>8}" for s in card.sections)
        result = _("pass") if card.passed else _("BELOW")
        lines.append(f"{card.slug:<24} {card.stage:>5} {card.score:>5} {card.target:>6}  "
                     f"{result:<6}  {levels}")  # fmt: skip
    for card in cards:
        lines += ["", _("%(deal)s: %(score)s of 5 (%(readiness)s %% ready), target %(target)s "
                        "for stage %(stage)s") % {
            "deal": card.slug, "score": card.score, "readiness": card.readiness,
            "target": card.target, "stage": card.stage,
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
               "%(target)s") % {"deal": card.slug, "score": card.score, "stage": card.stage,
                                "target": card.target}]  # fmt: skip
    for section in card.sections:
        for condition in section.caps:
            lines.append("  " + _("%(section)s (level %(level)s) needs: %(condition)s") % {
                "section": section.title, "level": section.level, "condition": condition.text,
            })  # fmt: skip
    return lines
