"""`dealroom remind` against a real SMTP server on 127.0.0.1 (aiosmtpd): one digest per
owner with an email, across deals; --dry-run sends nothing; a bad server is a sentence."""

from __future__ import annotations

import os
import socket
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from conftest import make_deal, set_plugin_options, write_deal, write_project

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
for name in ("DEALROOM_SHARD", "DEALROOM_SMTP_USER", "DEALROOM_SMTP_PASSWORD"):
    ENV.pop(name, None)
AS_OF = "2026-11-25"


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()  # returns once the server answers
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def deal(customer: str, steps: list[dict]) -> dict:
    data = make_deal(customer={"name": customer})
    data["stakeholders"][0]["email"] = "ingrid@fjordline.example"  # Ingrid Solberg
    data["stakeholders"][2]["email"] = "tom@ledgerly.example"  # Tom Ashby
    data["mutual_action_plan"]["steps"] = steps
    return data


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "project", as_of=AS_OF, remind_starttls=False,
                         remind_from="Ledgerly deal desk <deals@ledgerly.example>")  # fmt: skip
    write_deal(root / "deals", "fjordline", deal("Fjordline Shipping", [
        {"title": "Security review", "owner": "Ingrid Solberg", "due": "2026-11-20"},
        {"title": "Legal redlines", "owner": "Per Dahl", "due": "2026-11-26"},  # no email
        {"title": "Proposal", "owner": "Tom Ashby", "due": "2026-11-30", "status": "in progress"},
        {"title": "Far off", "owner": "Tom Ashby", "due": "2027-01-30"},
        {"title": "Done", "owner": "Ingrid Solberg", "due": "2026-11-10", "status": "done",
         "completed": "2026-11-10"},
    ]))  # fmt: skip
    write_deal(root / "deals", "vega-labs", deal("Vega Labs", [
        {"title": "Board approval", "owner": "Ingrid Solberg", "due": "2026-12-01"},
    ]))  # fmt: skip
    return root


def remind(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["dealroom", "remind", *args], cwd=project, env={**ENV, **env},
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_each_owner_gets_one_digest_across_deals(project: Path, smtp) -> None:
    inbox, port = smtp
    set_plugin_options(project, remind_smtp=f"127.0.0.1:{port}")
    result = remind(project, "--days", "7")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("Sent 2 reminder(s): ingrid@fjordline.example, "
                                     "tom@ledgerly.example")  # fmt: skip
    assert [rcpt for _, rcpt, _ in inbox.received] == [["ingrid@fjordline.example"],
                                                       ["tom@ledgerly.example"]]  # fmt: skip
    ingrid = message_from_bytes(inbox.received[0][2], policy=policy.default)
    assert ingrid["From"] == "Ledgerly deal desk <deals@ledgerly.example>"
    assert ingrid["To"] == "Ingrid Solberg <ingrid@fjordline.example>"
    assert ingrid["Subject"] == "Your mutual action plan steps: 1 overdue, 1 due in the next 7 days"
    body = ingrid.get_content().replace("\r\n", "\n")  # as sent: CRLF lines
    assert body == (
        "Hello Ingrid Solberg,\n\n"
        "Overdue:\n\n"
        "- Security review (Fjordline Shipping and Ledgerly): due 2026-11-20, 5 days overdue; "
        "planned, at risk\n\n"
        "Due by 2026-12-02:\n\n"
        "- Board approval (Vega Labs and Ledgerly): due 2026-12-01, in 6 days; planned\n\n"
        "Reply to this email if a date needs to move.\n"
    )
    tom = message_from_bytes(inbox.received[1][2], policy=policy.default).get_content()
    assert "Proposal (Fjordline Shipping and Ledgerly): due 2026-11-30, in 5 days" in tom
    assert "Far off" not in tom and "Legal redlines" not in tom + body  # later; no email
    # Only the deals named; a longer horizon.
    inbox.received.clear()
    assert remind(project, "vega-labs", "--days", "30").returncode == 0
    assert [rcpt for _, rcpt, _ in inbox.received] == [["ingrid@fjordline.example"]]


def test_dry_run_prints_and_sends_nothing(project: Path, smtp) -> None:
    inbox, port = smtp
    set_plugin_options(project, remind_smtp=f"127.0.0.1:{port}")
    result = remind(project, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "To: Ingrid Solberg <ingrid@fjordline.example>" in result.stdout
    assert "- Security review (Fjordline Shipping and Ledgerly)" in result.stdout
    assert "(dry run: 2 message(s) not sent)" in result.stderr
    assert inbox.received == []


def test_a_build_sends_nothing(project: Path, smtp) -> None:
    from conftest import run_build

    inbox, port = smtp
    set_plugin_options(project, remind_smtp=f"127.0.0.1:{port}")
    run_build(project)
    assert inbox.received == []


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({"remind_smtp": "127.0.0.1:{closed}"}, {},
         "cannot reach the SMTP server at 127.0.0.1:{closed}"),
        ({"remind_smtp": "nohost"}, {}, "remind_smtp: give the SMTP server as host:port"),
        ({"remind_smtp": "127.0.0.1:{port}", "remind_starttls": True}, {},
         "does not offer STARTTLS"),
        ({"remind_smtp": "127.0.0.1:{port}"}, {"DEALROOM_SMTP_USER": "deals"},
         "takes no login; unset DEALROOM_SMTP_USER"),
        ({"remind_smtp": "127.0.0.1:{port}", "remind_from": ""}, {}, "set remind_from"),
    ],
)  # fmt: skip
def test_a_bad_smtp_setting_is_a_sentence(project: Path, smtp, options, env, message) -> None:
    inbox, port = smtp
    closed = free_port()
    filled = {key: value.format(port=port, closed=closed) if isinstance(value, str) else value
              for key, value in options.items()}  # fmt: skip
    set_plugin_options(project, **filled)
    result = remind(project, **env)
    assert result.returncode == 1
    assert message.format(port=port, closed=closed) in result.stderr
    assert "Traceback" not in result.stderr and inbox.received == []


class RefusingTom(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, options) -> str:
        if address.startswith("tom@"):
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_refused_message_says_what_was_sent_before(project: Path) -> None:
    inbox = RefusingTom()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        set_plugin_options(project, remind_smtp=f"127.0.0.1:{controller.port}")
        result = remind(project)
    finally:
        controller.stop()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "refused a message" in result.stderr
    assert "sent 1 of 2 before that (Ingrid Solberg <ingrid@fjordline.example>)" in result.stderr
    assert [rcpt for _, rcpt, _ in inbox.received] == [["ingrid@fjordline.example"]]


ODD_EMAILS = ["tom@ledgerly.example, ceo@ledgerly.example", "Tom <tom@ledgerly.example>",
              "tom@ledgerly.example\nBcc: x@y.example"]  # fmt: skip


@pytest.mark.parametrize("email", ODD_EMAILS)
def test_only_one_plain_address_gets_mail(project: Path, smtp, email: str) -> None:
    _, port = smtp
    data = yaml.safe_load((project / "deals" / "fjordline" / "deal.yml").read_text())
    data["stakeholders"][2]["email"] = email
    (project / "deals" / "fjordline" / "deal.yml").write_text(yaml.safe_dump(data))
    set_plugin_options(project, remind_smtp=f"127.0.0.1:{port}")
    result = remind(project, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "not one plain email address; no reminder for them" in result.stderr
    assert "ceo@" not in result.stdout and "Bcc" not in result.stdout
    assert "To: Ingrid Solberg <ingrid@fjordline.example>" in result.stdout


@pytest.mark.parametrize(
    ("smtp_setting", "env", "message"),
    [
        ("smtp..example.com:587", {}, "cannot"),
        ("127.0.0.1:²", {}, "remind_smtp: give the SMTP server as host:port"),
        ("127.0.0.1:70000", {}, "remind_smtp: give the SMTP server as host:port"),
    ],
)  # fmt: skip
def test_settings_smtplib_cannot_use_are_sentences(
    project: Path, smtp_setting, env, message
) -> None:
    set_plugin_options(project, remind_smtp=smtp_setting)
    result = remind(project, **env)
    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_login_is_used_and_a_password_smtplib_cannot_send_is_a_sentence(
    project: Path,
) -> None:
    from aiosmtpd.smtp import AuthResult

    logins = []

    def authenticate(server, session, envelope, mechanism, data):
        logins.append((data.login, data.password))
        return AuthResult(success=True)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(),
                            authenticator=authenticate, auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        set_plugin_options(project, remind_smtp=f"127.0.0.1:{controller.port}")
        good = remind(project, DEALROOM_SMTP_USER="deals", DEALROOM_SMTP_PASSWORD="s3cret")
        bad = remind(project, DEALROOM_SMTP_USER="deals", DEALROOM_SMTP_PASSWORD="pässword")
    finally:
        controller.stop()
    assert good.returncode == 0, good.stderr
    assert logins == [(b"deals", b"s3cret")] and len(inbox.received) == 2
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "(ASCII only)" in bad.stderr and "nothing was sent" in bad.stderr


def test_a_buyer_reads_their_deal_rooms_language_and_everyone_else_the_sellers(
    project: Path, smtp
) -> None:
    """Fjordline is a German deal room; the seller's language (`language`) is Dutch. Tom
    (the seller's account executive) reads Dutch; Ingrid (buyer side) reads German when
    all her steps are Fjordline's, Dutch when they span it and the English Vega Labs."""
    inbox, port = smtp
    set_plugin_options(project, remind_smtp=f"127.0.0.1:{port}", language="nl")
    path = project / "deals" / "fjordline" / "deal.yml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "language": "de"}, sort_keys=False))
    assert remind(project, "--days", "7").returncode == 0
    ingrid, tom = (message_from_bytes(raw, policy=policy.default) for _, _, raw in inbox.received)
    assert ingrid["Subject"].startswith("Uw stappen in het gezamenlijke actieplan: 1 te laat, ")
    body = ingrid.get_content()
    assert body.startswith("Hallo Ingrid Solberg,") and "Achterstallig:" in body
    assert "- Security review (Fjordline Shipping en Ledgerly): deadline 2026-11-20, " in body
    assert "5 dagen te laat; gepland, in gevaar" in body and "over 6 dagen" in body
    assert "Beantwoord deze e-mail als een datum moet verschuiven." in body
    assert " und " not in body  # the deal named in the email's language, not its room's
    subject = "Uw stappen in het gezamenlijke actieplan: 1 verlopen in de komende 7 dagen"
    assert tom["Subject"].strip() == subject  # long: folded onto the next header line
    assert "Proposal (Fjordline Shipping en Ledgerly): deadline 2026-11-30, over 5 dagen; bezig" \
           in tom.get_content()  # fmt: skip
    inbox.received.clear()
    assert remind(project, "fjordline", "--days", "7").returncode == 0
    ingrid, tom = (message_from_bytes(raw, policy=policy.default) for _, _, raw in inbox.received)
    assert ingrid["Subject"] == "Ihre Schritte im gemeinsamen Projektplan: 1 überfällig"
    assert "- Security review (Fjordline Shipping und Ledgerly): fällig am 2026-11-20, " \
           "5 Tage überfällig; geplant, gefährdet" in ingrid.get_content()  # fmt: skip
    assert tom["Subject"].strip().startswith("Uw stappen in het gezamenlijke actieplan")
