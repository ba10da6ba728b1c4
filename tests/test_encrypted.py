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


# --- incremental publish: unchanged deals are carried, changed ones encrypted anew -------


@pytest.fixture
def two_deals(project: Path, passwords: dict[str, str], tmp_path: Path) -> Path:
    """qz (ana and the team) and calm (the team only), published once; the publish
    directory."""
    write_deal(project / "deals", "calm", make_deal(customer={"name": "CalmQZ"}))
    out = tmp_path / "out"
    result = publish(project / "mkdocs.yml", out, mode="encrypted")
    assert result.published == ["calm", "qz"] and result.carried == []
    return out


def _content_key(site: Path, password: str) -> bytes | None:
    """The content key that `password` opens in the site's keys file, if any."""
    keys = json.loads((site / "dealroom-keys.json").read_text())
    viewer_key = derive_key(password, unb64(keys["kdf"]["salt"]))
    return next((key for key in (_open(viewer_key, s) for s in keys["slots"]) if key), None)


def _page_envelope(page: Path) -> dict:
    return json.loads(page.read_text().split('type="application/json">')[1].split("</script>")[0])


def test_an_unchanged_deal_is_carried_while_a_revoked_viewer_loses_their_slot(
    two_deals: Path, project: Path, passwords: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    from dealroom.publish.access import revoke_viewer

    first = (two_deals / "current").resolve()
    calm_key = _content_key(first / "sites" / "calm", passwords["team"])
    qz_key = _content_key(first / "sites" / "qz", passwords["team"])
    revoke_viewer(project, Scope.of(project, project / "deals", "qz"), "ana")
    caplog.set_level("INFO", logger="mkdocs.plugins.dealroom")
    result = publish(project / "mkdocs.yml", two_deals, mode="encrypted")  # content unchanged
    second = (two_deals / "current").resolve()
    assert second != first
    assert result.published == ["calm", "qz"] and result.carried == ["calm"]
    assert "1 deal(s) carried unchanged from the live release, 1 encrypted" in caplog.text
    # qz: fresh slots, none of them ana's, and a new content key.
    assert _content_key(second / "sites" / "qz", passwords["ana"]) is None
    assert _content_key(second / "sites" / "qz", passwords["team"]) not in (None, qz_key)
    # calm: the very files of the first release (encrypting again would draw new IVs).
    for name in ("dealroom-keys.json", "index.html", "search/search_index.json"):
        before, after = first / "sites" / "calm" / name, second / "sites" / "calm" / name
        assert after.stat().st_ino == before.stat().st_ino
        assert after.read_bytes() == before.read_bytes()
    assert _content_key(second / "sites" / "calm", passwords["team"]) == calm_key
    page = decrypt(calm_key, _page_envelope(second / "sites" / "calm" / "index.html"))
    assert b"CalmQZ" in page
    assert not [path for path in second.rglob("*") if path.is_symlink()]
    assert_no_plaintext(second)


@pytest.mark.parametrize("change", ["content", "new viewer", "password not kept here"])
def test_a_deal_whose_content_or_key_slot_holders_changed_is_encrypted_anew(
    two_deals: Path, project: Path, passwords: dict[str, str], change: str
) -> None:
    first = (two_deals / "current").resolve()
    qz_key = _content_key(first / "sites" / "qz", passwords["team"])
    keys_before = (first / "sites" / "qz" / "dealroom-keys.json").read_bytes()
    if change == "content":
        page = project / "deals" / "qz" / "business-case.md"
        page.write_text(page.read_text() + "\n\nRevisedQZ\n")
    elif change == "new viewer":
        bob = add_viewer(project, Scope.of(project, project / "deals", "qz"), "bob")
    else:  # ana's password no longer on this machine: no slot for her, as without carrying
        Credentials(project).set("qz", "ana", None)
    result = publish(project / "mkdocs.yml", two_deals, mode="encrypted")
    assert result.published == ["calm", "qz"] and result.carried == ["calm"]
    site = two_deals / "current" / "sites" / "qz"
    assert (site / "dealroom-keys.json").read_bytes() != keys_before
    content_key = _content_key(site, passwords["team"])
    assert content_key is not None and content_key != qz_key
    page = decrypt(content_key, _page_envelope(site / "business-case" / "index.html"))
    assert (b"RevisedQZ" in page) == (change == "content")
    if change == "new viewer":
        assert _content_key(site, bob) == content_key
    assert (_content_key(site, passwords["ana"]) is None) == (change == "password not kept here")


def test_naming_the_seller_contact_reaches_unchanged_deals_too(
    two_deals: Path, project: Path
) -> None:
    write_project(project, access_page_contact=True)  # the deals stay as they are
    result = publish(project / "mkdocs.yml", two_deals, mode="encrypted")
    assert result.carried == []
    for slug in ("calm", "qz"):
        page = (two_deals / "current" / "sites" / slug / "index.html").read_text()
        assert "Tom Ashby, Account Executive" in page


def test_a_release_without_fingerprints_is_encrypted_again_and_then_carried(
    two_deals: Path, project: Path, passwords: dict[str, str]
) -> None:
    from dealroom.publish.grants import RELEASE_FILE

    record_file = two_deals / "current" / RELEASE_FILE
    record = json.loads(record_file.read_text())
    for entry in record["deals"].values():  # as a release written before fingerprints
        del entry["fingerprints"]
    record_file.write_text(json.dumps(record))
    keys = {slug: (two_deals / "current/sites" / slug / "dealroom-keys.json").read_bytes()
            for slug in ("calm", "qz")}  # fmt: skip
    assert publish(project / "mkdocs.yml", two_deals, mode="encrypted").carried == []
    for slug, before in keys.items():
        assert (two_deals / "current/sites" / slug / "dealroom-keys.json").read_bytes() != before
    assert publish(project / "mkdocs.yml", two_deals, mode="encrypted").carried == ["calm", "qz"]


def test_a_kept_deal_is_carried_once_it_builds_as_before(
    two_deals: Path, project: Path, passwords: dict[str, str]
) -> None:
    keys_file = two_deals / "current" / "sites" / "qz" / "dealroom-keys.json"
    keys_before = keys_file.read_bytes()
    deal_yml = project / "deals" / "qz" / "deal.yml"
    good = deal_yml.read_text()
    _break(project)
    assert publish(project / "mkdocs.yml", two_deals, mode="encrypted").kept == ["qz"]
    deal_yml.write_text(good)
    result = publish(project / "mkdocs.yml", two_deals, mode="encrypted")
    assert result.carried == ["calm", "qz"]
    assert keys_file.read_bytes() == keys_before


def test_a_link_in_the_live_site_is_never_carried(
    two_deals: Path, project: Path, passwords: dict[str, str]
) -> None:
    live = (two_deals / "current" / "sites" / "calm").resolve()
    (live / "escape").symlink_to("/etc")  # not dealroom's: the files are encrypted anew
    result = publish(project / "mkdocs.yml", two_deals, mode="encrypted")
    assert result.published == ["calm", "qz"] and result.carried == ["qz"]
    site = two_deals / "current" / "sites" / "calm"
    assert not (site / "escape").exists() and not (site / "escape").is_symlink()
    assert _content_key(site, passwords["team"]) != _content_key(live, passwords["team"])


def test_switching_modes_publishes_every_deal_afresh(
    project: Path, passwords: dict[str, str], tmp_path: Path
) -> None:
    from dealroom.publish.grants import RELEASE_FILE

    out = tmp_path / "out"
    publish(project / "mkdocs.yml", out, mode="nginx")
    nginx_record = json.loads((out / "current" / RELEASE_FILE).read_text())
    assert "fingerprints" not in nginx_record["deals"]["qz"]  # nginx mode computes none
    assert publish(project / "mkdocs.yml", out, mode="encrypted").carried == []
    assert _content_key(out / "current" / "sites" / "qz", passwords["ana"]) is not None
    publish(project / "mkdocs.yml", out, mode="nginx")
    page = (out / "current" / "sites" / "qz" / "index.html").read_text()
    assert "SummaryQZ" in page and not (out / "current/sites/qz/dealroom-keys.json").exists()


def test_the_content_fingerprint_covers_every_file_but_the_dropped_sitemaps(
    tmp_path: Path,
) -> None:
    from dealroom.publish.access_pages import Branding
    from dealroom.publish.carry import content_fingerprint

    def site(name: str, files: dict[str, str]) -> Path:
        for path, text in files.items():
            (tmp_path / name / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name / path).write_text(text)
        return tmp_path / name

    files = {"index.html": "<p>A</p>", "assets/x.svg": "<svg/>", "b/index.html": "B"}
    branding = Branding("Ledgerly")
    base = content_fingerprint(site("base", files), ["assets/x.svg"], branding)
    reordered = site("reordered", dict(reversed(files.items())))
    with_sitemap = site("sitemap", {**files, "sitemap.xml": "<urlset/>", "sitemap.xml.gz": "z"})
    assert content_fingerprint(reordered, ["assets/x.svg"], branding) == base
    assert content_fingerprint(with_sitemap, ["assets/x.svg"], branding) == base
    moved = {path: text for path, text in files.items() if path != "b/index.html"}
    changed = [
        content_fingerprint(site("byte", {**files, "b/index.html": "C"}), ["assets/x.svg"],
                            branding),
        content_fingerprint(site("moved", {**moved, "c/index.html": files["b/index.html"]}),
                            ["assets/x.svg"], branding),
        content_fingerprint(site("added", {**files, "b/more.css": ""}), ["assets/x.svg"],
                            branding),
        content_fingerprint(tmp_path / "base", [], branding),  # x.svg would not be a blob
        content_fingerprint(tmp_path / "base", ["assets/x.svg"], Branding("Other seller")),
    ]  # fmt: skip
    assert len({base, *changed}) == len(changed) + 1
