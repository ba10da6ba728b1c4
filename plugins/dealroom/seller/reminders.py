"""`dealroom remind`: each step owner's digest of what is due soon and what is overdue,
across deals, as plain-text email sent through the seller's SMTP server.

Owners are matched to stakeholders by name; only owners with an email get a digest. A
build never sends anything: this runs when the seller runs it (by hand, cron or a CI
schedule), and `--dry-run` prints the messages instead.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from ..deal.i18n import gettext as _
from ..deal.i18n import in_language, ngettext
from ..deal.loading import DealFolder
from ..deal.model import PLAIN_EMAIL, PlanStep
from ..deal.plan import plan_flags


@dataclass(frozen=True)
class Due:
    customer: str
    seller: str
    step: PlanStep
    flags: list[str]
    language: str = "en"  # the deal room's

    @property
    def deal(self) -> str:
        """The deal, in the language in use: "Fjordline Shipping and Ledgerly"."""
        return _("%(customer)s and %(seller)s") % {"customer": self.customer, "seller": self.seller}


@dataclass
class Digest:
    name: str
    email: str
    buyer: bool = False  # the owner is on the buyer side (of some deal)
    overdue: list[Due] = field(default_factory=list)
    upcoming: list[Due] = field(default_factory=list)

    def language(self, seller_language: str) -> str:
        """An owner on the buyer side reads their deal room's language (if all their
        steps come from deal rooms of one language); everyone else the seller's."""
        languages = {due.language for due in self.overdue + self.upcoming}
        return languages.pop() if self.buyer and len(languages) == 1 else seller_language

    def message(
        self, sender: str, as_of: dt.date, days: int, seller_language: str = "en"
    ) -> EmailMessage:
        with in_language(self.language(seller_language)):
            return self._message(sender, as_of, days)

    def _message(self, sender: str, as_of: dt.date, days: int) -> EmailMessage:
        message = EmailMessage()
        counts = []
        if self.overdue:
            counts.append(_("%(count)s overdue") % {"count": len(self.overdue)})
        if self.upcoming:
            counts.append(ngettext("%(count)s due in the next %(days)s day",
                                   "%(count)s due in the next %(days)s days", days)
                          % {"count": len(self.upcoming), "days": days})  # fmt: skip
        message["Subject"] = _("Your mutual action plan steps: %(counts)s") % {
            "counts": ", ".join(counts)
        }
        message["From"] = sender
        message["To"] = formataddr((self.name, self.email))
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
        lines = [_("Hello %(name)s,") % {"name": self.name}, ""]
        horizon = as_of + dt.timedelta(days=days)
        for title, dues in ((_("Overdue"), self.overdue),
                            (_("Due by %(day)s") % {"day": horizon}, self.upcoming)):  # fmt: skip
            if not dues:
                continue
            lines += [f"{title}:", ""]
            for due in dues:
                when = (as_of - due.step.due).days  # type: ignore[operator]
                if when > 0:
                    timing = ngettext("%(count)s day overdue", "%(count)s days overdue", when)
                elif when == 0:
                    timing = _("due today")
                else:
                    timing = ngettext("in %(count)s day", "in %(count)s days", -when)
                status = ", ".join(_(word) for word in [due.step.status, *due.flags])
                lines.append(_("- %(step)s (%(deal)s): due %(day)s, %(timing)s; %(status)s") % {
                    "step": due.step.title, "deal": due.deal, "day": due.step.due,
                    "timing": timing % {"count": abs(when)}, "status": status,
                })  # fmt: skip
            lines.append("")
        lines.append(_("Reply to this email if a date needs to move."))
        message.set_content("\n".join(lines) + "\n")
        return message


def digests(
    folders: list[DealFolder], as_of: dt.date, days: int, unsendable: set[str] | None = None
) -> list[Digest]:
    """One digest per owner with an email who has open steps overdue or due within
    `days` days, across every deal in `folders`; by email, each list in date order.
    Owners whose `email` is not one plain address go to `unsendable`, never to a
    message: a list or a name in it would write to someone nobody chose."""
    unsendable = unsendable if unsendable is not None else set()
    found: dict[str, Digest] = {}
    horizon = as_of + dt.timedelta(days=days)
    for folder in folders:
        deal = folder.deal
        flags = plan_flags(deal, as_of)
        for index, step in enumerate(deal.mutual_action_plan.steps):
            owner = deal.stakeholder(step.owner)
            if step.status == "done" or owner is None or not owner.email or step.due > horizon:  # type: ignore[operator]
                continue
            if not PLAIN_EMAIL.fullmatch(owner.email):  # one address, nothing around it
                unsendable.add(f"{owner.name} <{owner.email}> ({folder.slug})")
                continue
            digest = found.setdefault(owner.email.lower(), Digest(owner.name, owner.email))
            digest.buyer = digest.buyer or owner.side == "buyer"
            due = Due(deal.customer.name, deal.seller.name, step, flags[index], deal.site_language)
            (digest.overdue if step.due < as_of else digest.upcoming).append(due)  # type: ignore[operator]
    for digest in found.values():
        digest.overdue.sort(key=lambda due: (due.step.due, due.customer, due.seller))
        digest.upcoming.sort(key=lambda due: (due.step.due, due.customer, due.seller))
    return [found[email] for email in sorted(found)]


class MailError(Exception):
    """The SMTP server could not be reached or refused a message; says why, and which
    messages went out before it did (`sent`: their recipients)."""

    def __init__(self, message: str, sent: list[str] | None = None) -> None:
        super().__init__(message)
        self.sent = sent or []


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    starttls: bool = True
    username: str = ""
    password: str = ""  # from the environment, never from a file in git

    def send(self, messages: list[EmailMessage]) -> list[str]:
        """Send `messages`; the recipients of those sent. Raises MailError (with those
        sent before) at the first failure."""
        where = f"{self.host}:{self.port}"
        sent: list[str] = []
        try:
            with smtplib.SMTP(self.host, self.port, timeout=15) as smtp:
                if self.starttls:
                    try:
                        smtp.starttls(context=ssl.create_default_context())
                    except smtplib.SMTPNotSupportedError:
                        raise MailError(f"the SMTP server at {where} does not offer STARTTLS; "
                                        "set remind_starttls: false only for a server on "
                                        "this machine") from None  # fmt: skip
                if self.username:
                    try:
                        smtp.login(self.username, self.password)
                    except smtplib.SMTPNotSupportedError:
                        raise MailError(f"the SMTP server at {where} takes no login; unset "
                                        "DEALROOM_SMTP_USER") from None  # fmt: skip
                for message in messages:
                    smtp.send_message(message)
                    sent.append(str(message["To"]))
        except MailError as error:
            error.sent = sent
            raise
        except smtplib.SMTPAuthenticationError as error:
            raise MailError(f"the SMTP server at {where} refused the login "
                            f"({error.smtp_code}); check DEALROOM_SMTP_USER and "
                            "DEALROOM_SMTP_PASSWORD", sent) from None  # fmt: skip
        except smtplib.SMTPException as error:
            raise MailError(f"the SMTP server at {where} refused a message ({error})",
                            sent) from None  # fmt: skip
        except (OSError, ssl.SSLError) as error:
            raise MailError(f"cannot reach the SMTP server at {where} ({error}); check "
                            "remind_smtp in mkdocs.yml", sent) from None  # fmt: skip
        except (UnicodeError, ValueError) as error:  # a host name or password smtplib can't send
            raise MailError(f"cannot use the SMTP settings for {where} ({error}); check "
                            "remind_smtp and DEALROOM_SMTP_USER/PASSWORD (ASCII only)",
                            sent) from None  # fmt: skip
        return sent
