"""The CI recipes in the README (GitHub Actions and GitLab CI), taken from the README
itself and run step by step on a real deal repository: check, strict build, and an
encrypted publish with the credentials passed as a secret, never left in git or output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, make_deal, write_deal, write_project
from dealroom.publish.access import Scope, add_viewer

README = (REPO / "README.md").read_text(encoding="utf-8")
RECIPES = dict(re.findall(r"^`([^`\n]+)`:\n\n```yaml\n(.*?)^```", README, re.MULTILINE | re.DOTALL))
GITHUB, GITLAB = ".github/workflows/dealroom.yml", ".gitlab-ci.yml"
SECRET = "${{ secrets.DEALROOM_CREDENTIALS }}"  # GitHub's expression for the secret
# The recipes install as the README's first command does; here, `.venv` is the
# environment running the tests, so nothing is fetched.
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -e ."
SLUGS = ("fjordline", "vega-labs")
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
ENV.pop("DEALROOM_SHARD", None)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def deal_repo(tmp_path: Path) -> tuple[Path, str]:
    """A deal repository as a seller keeps it, after publishing once on their machine
    (which wrote each deal's salt into its access file, committed); and the content of
    the credentials file, which only the CI secret holds."""
    root = write_project(tmp_path / "repo", scoring_stage_targets={3: 2.0})
    deals = root / "deals"
    passwords = []
    for slug in SLUGS:
        write_deal(deals, slug, make_deal(), {"approach.md": "# Approach\n\nPlainly.\n"})
        passwords.append(add_viewer(root, Scope.of(root, deals, slug), f"{slug}-cfo"))
    passwords.append(add_viewer(root, Scope.of(root, deals, None), "seller"))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    with (root / ".gitignore").open("a", encoding="utf-8") as ignore:
        ignore.write(".venv\n")  # below, a link, which `.venv/` does not match
    (root / ".venv").symlink_to(sys.prefix)
    subprocess.run(["dealroom", "publish", "--mode", "encrypted", "-q", "--out",
                    str(tmp_path / "on-my-machine")], cwd=root, env=ENV, check=True,
                   capture_output=True)  # fmt: skip
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=Tom Ashby", "-c", "user.email=tom@ledgerly.example",
        "commit", "-q", "-m", "Two deals")  # fmt: skip
    credentials = root / ".dealroom" / "credentials.yml"
    secret = credentials.read_text(encoding="utf-8")
    assert all(password in secret for password in passwords)
    credentials.unlink()  # a fresh runner's checkout has none
    return root, secret


def run_step(
    script: str, root: Path, shell: list[str], **env: str
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*shell, script], cwd=root, env={**ENV, **env},
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
    return done


def passwords_of(secret: str) -> list[str]:
    return [password for users in yaml.safe_load(secret).values() for password in users.values()]


def assert_published_safely(root: Path, artifact: Path, secret: str, logs: str) -> None:
    assert sorted(path.name for path in artifact.iterdir()) == sorted(SLUGS)  # deal sites only
    files = [path for path in artifact.rglob("*") if path.is_file()]
    assert all(not path.is_symlink() for path in artifact.rglob("*"))
    for slug in SLUGS:
        assert (artifact / slug / "dealroom-keys.json").is_file()
        assert "Fjordline Shipping" not in (artifact / slug / "index.html").read_text()
    everything = b"".join(path.read_bytes() for path in files)
    for password in passwords_of(secret):
        assert password.encode() not in everything
        assert password not in logs
        assert password not in git(root, "log", "-p", "--all")
    assert not (root / ".dealroom" / "credentials.yml").exists()
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""


def test_the_readme_has_both_recipes() -> None:
    assert set(RECIPES) >= {GITHUB, GITLAB}


def test_github_actions_recipe(deal_repo: tuple[Path, str], tmp_path: Path) -> None:
    root, secret = deal_repo
    workflow: dict[Any, Any] = yaml.safe_load(RECIPES[GITHUB])
    assert workflow.get("on", workflow.get(True)) == "push"  # YAML 1.1 reads `on` as true
    check, publish = workflow["jobs"]["check"], workflow["jobs"]["publish"]
    assert publish["needs"] == "check" and publish["if"] == "github.ref == 'refs/heads/main'"
    shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]  # GitHub's `bash`
    logs = ""
    for job in (check, publish):
        steps = job["steps"]
        assert steps[0]["uses"].startswith("actions/checkout@")
        assert steps[0]["with"]["fetch-depth"] == 0
        runs = [step for step in steps if "run" in step]
        assert runs[0]["run"] == INSTALL
        for step in runs[1:]:
            env = {name: value.replace(SECRET, secret)
                   for name, value in step.get("env", {}).items()}  # fmt: skip
            if env:
                assert step["env"] == {
                    "DEALROOM_CREDENTIALS": "${{ secrets.DEALROOM_CREDENTIALS }}"
                }
            done = run_step(step["run"], root, shell, RUNNER_TEMP=str(tmp_path), **env)
            logs += done.stdout + done.stderr
    assert "dealroom publish --mode encrypted" in publish["steps"][-2]["run"]
    upload = publish["steps"][-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert (root / "site" / "index.html").is_file()  # the strict build ran
    assert_published_safely(root, root / upload["with"]["path"], secret, logs)


def test_gitlab_ci_recipe(deal_repo: tuple[Path, str], tmp_path: Path) -> None:
    root, secret = deal_repo
    pipeline: dict[str, Any] = yaml.safe_load(RECIPES[GITLAB])
    assert pipeline["default"]["before_script"] == [INSTALL]
    assert pipeline["variables"]["GIT_DEPTH"] == 0
    publish = pipeline["publish"]
    assert publish["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    # A variable of type File: the runner writes the secret to a file and passes its path.
    secret_file = tmp_path / "runner" / "DEALROOM_CREDENTIALS"
    secret_file.parent.mkdir()
    secret_file.write_text(secret, encoding="utf-8")
    builds = tmp_path / "builds"
    builds.mkdir()
    logs = ""
    for job in (pipeline["check"], publish):
        # A GitLab runner runs a job's script lines in one shell, stopping at a failure.
        script, shell = "\n".join(job["script"]), ["bash", "-eo", "pipefail", "-c"]
        done = run_step(script, root, shell, DEALROOM_CREDENTIALS=str(secret_file),
                        CI_BUILDS_DIR=str(builds))  # fmt: skip
        logs += done.stdout + done.stderr
    assert (root / "site" / "index.html").is_file()
    [artifact] = publish["artifacts"]["paths"]
    assert_published_safely(root, root / artifact, secret, logs)


def test_a_salt_added_by_the_runner_fails_the_publish_job(
    deal_repo: tuple[Path, str], tmp_path: Path
) -> None:
    """A salt only the runner knows would make every share link fail: the job says so."""
    root, secret = deal_repo
    access = root / "deals" / "vega-labs" / "access.yml"
    text = access.read_text(encoding="utf-8")
    assert "encryption_salt:" in text
    access.write_text(re.sub(r"(?m)^encryption_salt:.*\n", "", text), encoding="utf-8")
    git(root, "-c", "user.name=T", "-c", "user.email=t@x.example", "commit", "-qam", "No salt")
    step = yaml.safe_load(RECIPES[GITHUB])["jobs"]["publish"]["steps"][-2]
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=root,
                          env={**ENV, "DEALROOM_CREDENTIALS": secret, "RUNNER_TEMP": str(tmp_path)},
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode != 0
    assert "deals/vega-labs/access.yml" in done.stdout and "+encryption_salt:" in done.stdout
    assert not (root / "deal-rooms").exists()  # nothing handed on
