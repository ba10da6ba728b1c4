"""Encrypted static publishing: the format (golden fixture), no plaintext in any output
byte, and what a reader sees in a real headless Chromium."""

from __future__ import annotations

import gzip
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import browser_needed, make_deal, write_deal, write_project
from conftest import static_host as serve_statically
from cryptography.exceptions import InvalidTag
from dealroom.publish.access import AccessList, Credentials, Scope, add_viewer
from dealroom.publish.encryption import decrypt, derive_key, encrypt, unb64
from dealroom.publish.releases import publish

FIXTURE = Path(__file__).parent / "fixtures" / "encrypted-v1.json"
TITLE = "Private deal room \u2013 Ledgerly"  # an en dash, as the page writes it


def test_format_v1_matches_the_golden_fixture() -> None:
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    key = bytes.fromhex(fixture["content_key_hex"])
    iv = bytes.fromhex(fixture["iv_hex"])
    plaintext = fixture["plaintext"].encode()
    assert encrypt(key, plaintext, iv) == fixture["envelope"]
    assert decrypt(key, fixture["envelope"]) == plaintext
    viewer_key = derive_key(fixture["password"], unb64(fixture["salt_b64"]), fixture["iterations"])
    assert viewer_key.hex() == fixture["viewer_key_hex"]
    assert decrypt(viewer_key, fixture["slot"]) == key
    with pytest.raises(InvalidTag):
        decrypt(derive_key("wrong", unb64(fixture["salt_b64"]), 1000), fixture["slot"])


CANARIES = ["CustomerQZ", "SummaryQZ", "NameQZ", "NarrativeQZ", "LegalQZ", "AssetQZ",
            "InternalQZ", "secret-diagram", "TitleQZ"]  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "project")
    deal = make_deal(customer={"name": "CustomerQZ"}, summary="SummaryQZ")
    deal["stakeholders"][0]["name"] = "Ingrid NameQZ"
    deal["stakeholders"][0]["title"] = "TitleQZ"
    deal["mutual_action_plan"]["steps"][0]["owner"] = "Ingrid NameQZ"
    deal["internal"] = {"notes": "InternalQZ"}
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text>AssetQZ</text></svg>'
    )
    write_deal(root / "deals", "qz", deal, {
        "business-case.md": "## Detail\n\nNarrativeQZ",
        "context/legal.md": "# Legal\n\nLegalQZ\n\n![diagram](../assets/secret-diagram.svg)",
        "assets/secret-diagram.svg": svg,
    })  # fmt: skip
    return root


@pytest.fixture
def passwords(project: Path) -> dict[str, str]:
    scope = Scope.of(project, project / "deals", "qz")
    return {
        "ana": add_viewer(project, scope, "ana"),
        "team": add_viewer(project, Scope.of(project, project / "deals", None), "team"),
    }


@pytest.fixture
def published(project: Path, passwords: dict[str, str], tmp_path: Path) -> Path:
    out = tmp_path / "out"
    result = publish(project / "mkdocs.yml", out, mode="encrypted")
    assert result.published == ["qz"]
    return out / "current" / "sites"


def assert_no_plaintext(out: Path) -> None:
    files = [path for path in out.rglob("*") if path.is_file()]
    assert len(files) > 20
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        for canary in CANARIES:
            assert canary.encode() not in data, f"{canary} in {path}"
            assert canary.encode() not in path.as_posix().encode(), path


def test_no_plaintext_of_the_deal_in_any_output_byte(published: Path) -> None:
    assert_no_plaintext(published.parent.parent)
    page = (published / "qz" / "business-case" / "index.html").read_text()
    assert f"<title>{TITLE}</title>" in page and "Business case" not in page
    assert "Tom Ashby" not in page  # the seller's contact only with access_page_contact


def test_every_viewer_opens_the_keys_and_a_wrong_password_does_not(
    published: Path, project: Path, passwords: dict[str, str]
) -> None:
    keys = json.loads((published / "qz" / "dealroom-keys.json").read_text())
    assert keys["kdf"]["iterations"] >= 600_000 and len(keys["slots"]) == 2
    salt = unb64(keys["kdf"]["salt"])
    assert AccessList.load(project / "deals" / "qz" / "access.yml").salt == keys["kdf"]["salt"]
    page = json.loads(
        (published / "qz" / "index.html").read_text().split('type="application/json">')[1]
        .split("</script>")[0]
    )  # fmt: skip
    for password in passwords.values():
        viewer_key = derive_key(password, salt)
        content_key = next(k for k in (_open(viewer_key, s) for s in keys["slots"]) if k)
        assert b"SummaryQZ" in decrypt(content_key, page)
    wrong = derive_key("not-the-password", salt)
    assert all(_open(wrong, slot) is None for slot in keys["slots"])


def _open(key: bytes, envelope: dict) -> bytes | None:
    try:
        return decrypt(key, envelope)
    except InvalidTag:
        return None


# --- what a reader sees: real headless Chromium ----------------------------------------


@pytest.fixture
def static_host(published: Path) -> Iterator[str]:
    with serve_statically(published) as url:
        yield url


@browser_needed
def test_reader_enters_the_password_and_sees_the_deal(static_host, browser, passwords) -> None:
    page = browser.new_page()
    page.goto(f"{static_host}/qz/business-case/")
    assert page.title() == TITLE
    page.fill("#dealroom-password", passwords["ana"])
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Business case: CustomerQZ')")
    assert "NarrativeQZ" in page.inner_text("article")
    # Other pages of the visit open without asking again.
    page.click("nav >> text=Mutual action plan")
    page.wait_for_selector("h1:has-text('Mutual action plan')")
    # The deal's own image is decrypted too.
    page.goto(f"{static_host}/qz/context/legal/")
    page.wait_for_selector("text=LegalQZ")
    width = page.eval_on_selector("article img", "img => img.complete && img.naturalWidth")
    assert width == 40
    # Search works on the decrypted index.
    page.click("input[data-md-component=search-query]")
    page.keyboard.type("NarrativeQZ", delay=20)
    page.wait_for_selector(".md-search-result__item")
    stored = page.evaluate("() => JSON.stringify({...localStorage, ...sessionStorage})")
    assert passwords["ana"] not in stored


@browser_needed
def test_a_wrong_password_shows_a_message_and_no_content(static_host, browser) -> None:
    page = browser.new_page()
    page.goto(f"{static_host}/qz/")
    page.fill("#dealroom-password", "wrong-horse-battery-staple")
    page.click("button[type=submit]")
    page.wait_for_selector("#dealroom-error:visible")
    assert "does not open this deal room" in page.inner_text("#dealroom-error")
    assert "CustomerQZ" not in page.content() and "SummaryQZ" not in page.content()
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0


@browser_needed
def test_remember_on_this_device_keeps_the_key_not_the_password(
    static_host, browser, passwords
) -> None:
    context = browser.new_context()
    first = context.new_page()
    first.goto(f"{static_host}/qz/")
    first.fill("#dealroom-password", passwords["ana"])
    first.check("#dealroom-remember")
    first.click("button[type=submit]")
    first.wait_for_selector("text=SummaryQZ")
    stored = first.evaluate("() => JSON.stringify({...localStorage})")
    assert passwords["ana"] not in stored and "dealroom-key:" in stored
    second = context.new_page()  # a new tab: only what was remembered carries over
    second.goto(f"{static_host}/qz/contributors/")
    second.wait_for_selector("h1:has-text('Contributors')")
    forgetful = browser.new_context().new_page()
    forgetful.goto(f"{static_host}/qz/")
    forgetful.wait_for_selector("#dealroom-password")
    assert "SummaryQZ" not in forgetful.content()


@browser_needed
def test_share_link_opens_in_one_click_and_hides_its_key(
    static_host, browser, project: Path, published: Path
) -> None:
    result = subprocess.run(
        ["dealroom", "share", "ana", "--deal", "qz", "--url", static_host],
        cwd=project, capture_output=True, text=True, check=True,
    )  # fmt: skip
    link = result.stdout.strip()
    assert link.startswith(f"{static_host}/qz/#key=") and "?" not in link
    assert Credentials(project).load()["qz"]["ana"] not in link
    page = browser.new_page()
    page.goto(link)
    page.wait_for_selector("text=SummaryQZ")
    assert "#key=" not in page.url


def test_a_revoked_viewer_cannot_open_the_next_release(
    published: Path, project: Path, passwords: dict[str, str]
) -> None:
    from dealroom.publish.access import revoke_viewer

    revoke_viewer(project, Scope.of(project, project / "deals", "qz"), "ana")
    publish(project / "mkdocs.yml", published.parent.parent, mode="encrypted")
    keys = json.loads((published.parent.parent / "current/sites/qz/dealroom-keys.json").read_text())
    salt = unb64(keys["kdf"]["salt"])
    assert len(keys["slots"]) == 1
    assert all(_open(derive_key(passwords["ana"], salt), slot) is None for slot in keys["slots"])
    assert any(_open(derive_key(passwords["team"], salt), slot) for slot in keys["slots"])


def _break(project: Path) -> None:
    deal_yml = project / "deals" / "qz" / "deal.yml"
    deal_yml.write_text(deal_yml.read_text().replace("stage: 3", "stage: 9"))


def test_a_deal_that_fails_to_build_keeps_its_release_while_access_is_unchanged(
    published: Path, project: Path
) -> None:
    out = published.parent.parent
    keys_before = (published / "qz" / "dealroom-keys.json").read_bytes()
    _break(project)
    result = publish(project / "mkdocs.yml", out, mode="encrypted")
    assert result.kept == ["qz"] and result.withdrawn == []
    assert (out / "current/sites/qz/dealroom-keys.json").read_bytes() == keys_before


@pytest.mark.parametrize("change", ["revoke", "rotate", "revoke-team"])
def test_a_deal_that_fails_to_build_is_withdrawn_once_access_was_taken_away(
    published: Path, project: Path, change: str
) -> None:
    from dealroom.publish.access import revoke_viewer, rotate_password

    out = published.parent.parent
    deals = project / "deals"
    if change == "revoke":
        revoke_viewer(project, Scope.of(project, deals, "qz"), "ana")
    elif change == "rotate":
        rotate_password(project, Scope.of(project, deals, "qz"), "ana")
    else:
        revoke_viewer(project, Scope.of(project, deals, None), "team")
    _break(project)
    result = publish(project / "mkdocs.yml", out, mode="encrypted")
    assert result.withdrawn == ["qz"] and result.kept == []
    assert not (out / "current" / "sites" / "qz").exists()


def test_rollback_leaves_offline_a_deal_whose_old_key_slots_were_revoked(
    published: Path, project: Path
) -> None:
    from dealroom.publish.access import revoke_viewer
    from dealroom.publish.releases import rollback

    out = published.parent.parent
    revoke_viewer(project, Scope.of(project, project / "deals", "qz"), "ana")
    publish(project / "mkdocs.yml", out, mode="encrypted")
    first = sorted((out / "releases").iterdir())[0]
    # Revocation reached the earlier release already: the publish brought what was live
    # then under today's access list before it built anything.
    assert not (first / "sites" / "qz").exists()
    result = rollback(out)
    assert result.release == first
    assert not (out / "current" / "sites" / "qz").exists()
    for path in (out / "current").rglob("*"):  # nothing there that the old password opens
        assert not path.name.endswith("dealroom-keys.json")


def test_rollback_checks_the_old_release_against_todays_access(
    published: Path, project: Path
) -> None:
    from dealroom.publish.access import revoke_viewer
    from dealroom.publish.releases import rollback

    out = published.parent.parent
    first = (out / "current").resolve()
    publish(project / "mkdocs.yml", out, mode="encrypted")  # a second release, same access
    revoke_viewer(project, Scope.of(project, project / "deals", "qz"), "ana")
    result = rollback(out)  # back to the first, which still has ana's key slot
    assert result.release == first
    assert "revoked" in result.withdrawn["qz"]
    assert not (out / "current" / "sites" / "qz").exists()


def test_a_stale_password_kept_on_this_machine_gets_no_key_slot(
    published: Path, project: Path, passwords: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    from dealroom.publish.access import rotate_password

    credentials = Credentials(project).path
    stale = credentials.read_bytes()  # as another machine, or an old backup, would have it
    new = rotate_password(project, Scope.of(project, project / "deals", "qz"), "ana")
    credentials.write_bytes(stale)
    publish(project / "mkdocs.yml", published.parent.parent, mode="encrypted")
    keys = json.loads((published.parent.parent / "current/sites/qz/dealroom-keys.json").read_text())
    salt = unb64(keys["kdf"]["salt"])
    for password in (passwords["ana"], new):  # neither the old nor (unknown here) the new
        assert all(_open(derive_key(password, salt), slot) is None for slot in keys["slots"])
    assert any(_open(derive_key(passwords["team"], salt), slot) for slot in keys["slots"])
    assert "not the current password for 'ana'" in caplog.text


def test_the_password_page_names_the_seller_contact_only_with_the_option(
    project: Path, passwords: dict[str, str], tmp_path: Path
) -> None:
    write_project(project, access_page_contact=True)  # mkdocs.yml only; the deal stays
    deal_yml = project / "deals" / "qz" / "deal.yml"
    deal = yaml.safe_load(deal_yml.read_text())
    deal["stakeholders"][2]["email"] = "tom@ledgerly.example"  # the account executive
    deal_yml.write_text(yaml.safe_dump(deal, sort_keys=False))
    out = tmp_path / "out"
    assert publish(project / "mkdocs.yml", out, mode="encrypted").published == ["qz"]
    page = (out / "current" / "sites" / "qz" / "mutual-action-plan" / "index.html").read_text()
    assert "Your contact at Ledgerly" in page and "Tom Ashby, Account Executive" in page
    assert '<a href="mailto:tom@ledgerly.example">tom@ledgerly.example</a>' in page
    assert_no_plaintext(out)  # still nothing of the customer's


# --- the password page on a phone, and unlocking once per browser session ----------------


@browser_needed
@pytest.mark.parametrize("width", [320, 390])
def test_the_password_page_fits_a_phone(static_host, browser, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 640})
    page = context.new_page()
    page.goto(f"{static_host}/qz/business-case/")
    field = page.get_by_label("Password", exact=True)  # the label names the field
    field.wait_for(state="visible")
    assert page.title() == TITLE and page.get_attribute("html", "lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Private deal room"
    assert "from Ledgerly" in page.get_by_role("main").inner_text()

    def fits() -> None:
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        button = page.get_by_role("button", name="Open")
        remember = page.get_by_label("Remember on this device")
        for element in (field, button, remember, page.get_by_role("main")):
            box = element.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width

    fits()
    field.fill("wrong-horse-battery-staple")
    page.get_by_role("button", name="Open").click()
    alert = page.get_by_role("alert")
    alert.wait_for(state="visible")
    assert "does not open this deal room" in alert.inner_text()
    fits()  # the message wraps too
    context.close()


# Records whether the password form was ever shown in a page (it starts hidden).
FORM_WATCH = """
window.dealroomFormShown = false;
new MutationObserver(() => {
  const form = document.getElementById("dealroom-unlock");
  if (form && !form.hidden) window.dealroomFormShown = true;
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


def _unlock(page, url: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Open").click()
    page.wait_for_selector("text=SummaryQZ")


@browser_needed
def test_a_new_tab_of_an_unlocked_deal_room_opens_without_the_password(
    static_host, browser, passwords
) -> None:
    context = browser.new_context()
    first = context.new_page()
    _unlock(first, f"{static_host}/qz/", passwords["ana"])
    second = context.new_page()  # a new tab: its own, empty sessionStorage
    second.add_init_script(FORM_WATCH)
    second.goto(f"{static_host}/qz/business-case/")
    second.wait_for_selector("h1:has-text('Business case: CustomerQZ')")
    assert "NarrativeQZ" in second.inner_text("article")
    assert second.evaluate("window.dealroomFormShown") is False  # never asked
    key = first.evaluate("sessionStorage.getItem('dealroom-key:/qz/')")
    assert key and passwords["ana"] not in key
    assert second.evaluate("sessionStorage.getItem('dealroom-key:/qz/')") == key  # kept
    for page in (first, second):  # nothing on disk
        assert page.evaluate("localStorage.length") == 0

    # An unlocked tab answers a request that names its own deal room, and nothing else.
    # One responder handles requests in order, so once the good one is answered, any
    # answer to the others would have arrived.
    first.close()
    probe = context.new_page()
    probe.goto(f"{static_host}/")  # any page of the same origin
    answers = probe.evaluate("""async () => {
      const channel = new BroadcastChannel("dealroom-unlock:/qz/");
      const answers = [];
      const answered = new Promise((resolve) => {
        channel.onmessage = (event) => {
          answers.push(event.data);
          if (event.data.id === "good") resolve();
        };
      });
      channel.postMessage({ type: "key-request", id: "other-root", root: "/other/" });
      channel.postMessage({ type: "key-request", id: "no-root" });
      channel.postMessage({ type: "key", id: "not-a-request", root: "/qz/" });
      channel.postMessage({ type: "key-request", id: "good", root: "/qz/" });
      await answered;
      channel.close();
      return answers;
    }""")
    assert answers == [{"type": "key", "id": "good", "root": "/qz/", "key": key}]

    # Closing every tab of the deal room forgets the key.
    second.close()
    probe.close()
    third = context.new_page()
    third.goto(f"{static_host}/qz/contributors/")
    third.get_by_label("Password", exact=True).wait_for(state="visible")
    assert "SummaryQZ" not in third.content()
    # Another browser session never had it.
    other = browser.new_context().new_page()
    other.goto(f"{static_host}/qz/business-case/")
    other.get_by_label("Password", exact=True).wait_for(state="visible")
    assert "NarrativeQZ" not in other.content()
    context.close()


@browser_needed
def test_share_link_to_a_page_opens_that_page(static_host, browser, project: Path) -> None:
    page = browser.new_page()
    for name, shown in (("business-case", "NarrativeQZ"), ("context/legal", "LegalQZ")):
        result = subprocess.run(
            ["dealroom", "share", "ana", "--deal", "qz", "--url", static_host, "--page", name],
            cwd=project, capture_output=True, text=True, check=True,
        )  # fmt: skip
        link = result.stdout.strip()
        assert link.startswith(f"{static_host}/qz/{name}/#key="), link
        page.goto(link)
        page.wait_for_selector(f"article >> text={shown}")
        assert page.url == f"{static_host}/qz/{name}/"
