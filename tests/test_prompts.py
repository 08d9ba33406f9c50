"""The interactive prompts: same answers as --config, inline validation, Ctrl-C.

Driven without a terminal through prompt_toolkit's pipe input, and end to end through the
real CLI on a pseudo-terminal.
"""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import threading
import time
import tty
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput, Output
from prompt_toolkit.output.plain_text import PlainTextOutput

from scaffolder import model
from scaffolder.errors import AnswersError, UsageError
from scaffolder.model import PLATFORM_FILE, Platform, load_answers, read_answers_file
from scaffolder.prompts import ask_answers
from tests.cli_helpers import CLI, cli_env, listing, run_cli

ENTER = "\r"
DOWN = "\x1b[B"
SPACE = " "
CTRL_C = "\x03"
CLEAR = "\x15"  # Ctrl-U: erase the suggested default


def typed(text: str) -> str:
    return CLEAR + text + ENTER


# Every question answered with its default: engine, repo, URL, branch, hub, spoke count,
# 2 x (name, env, region), tenants, 2 placements, sealed, external, notifications, channel,
# image automation, progressive delivery, and "write" on the review screen.
DEFAULT_KEYS = ENTER * 22

CUSTOM_KEYS = "".join(
    [
        DOWN + ENTER,  # engine: argocd
        typed("edge-platform"),
        typed("git@gitlab.example.com:infra/edge-platform.git"),
        typed("trunk"),
        typed("mgmt"),  # hub
        typed("3"),  # spokes
        ENTER * 3,  # dev-eu-1, dev, eu-west-1
        ENTER * 3,  # prod-eu-1, prod, eu-west-1
        typed("stg-us-1") + ENTER + typed("us-east-1"),  # env: the suggested "staging"
        typed("payments, web"),
        SPACE + ENTER,  # payments: every spoke but the first (dev-eu-1)
        ENTER,  # web: every spoke
        ENTER,  # sealed secrets: yes
        "n",  # external secrets: no
        DOWN + ENTER,  # notifications: msteams
        typed("platform"),
        "n",  # image automation: no
        ENTER,  # progressive delivery: none
        DOWN + SPACE + ENTER,  # manual sync envs (dev, prod, staging): prod
        ENTER,  # review: write
    ]
)

CUSTOM_CONFIG: dict[str, Any] = {
    "repo_name": "edge-platform",
    "git_url": "git@gitlab.example.com:infra/edge-platform.git",
    "git_branch": "trunk",
    "engine": "argocd",
    "clusters": [
        {"name": "mgmt", "role": "hub", "env": "mgmt"},
        {"name": "dev-eu-1", "role": "spoke", "env": "dev", "region": "eu-west-1"},
        {"name": "prod-eu-1", "role": "spoke", "env": "prod", "region": "eu-west-1"},
        {"name": "stg-us-1", "role": "spoke", "env": "staging", "region": "us-east-1"},
    ],
    "tenants": [{"name": "payments", "clusters": ["prod-eu-1", "stg-us-1"]}, {"name": "web"}],
    "secrets": {"external_secrets": False},
    "notifications": {"provider": "msteams", "channel": "platform"},
    "image_automation": {"enabled": False},
    "sync": {"manual_envs": ["prod"]},
}


def drive(keys: str, engine: str | None = None, output: Output | None = None) -> Platform:
    """Answer the prompts with ``keys``; the input then ends, so an extra question fails."""
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        pipe.close()
        return ask_answers(engine, input=pipe, output=output or DummyOutput())


def from_config(tmp_path: Path, answers: dict[str, Any]) -> Platform:
    config = tmp_path / "answers.yaml"
    config.write_text(yaml.safe_dump(answers), encoding="utf-8")
    return read_answers_file(config)


def test_all_defaults_equal_the_default_config(tmp_path: Path) -> None:
    prompted = drive(DEFAULT_KEYS)
    assert prompted == from_config(tmp_path, model.DEFAULT_ANSWERS)
    assert prompted == model.default_platform()


def test_a_customised_run_equals_its_config(tmp_path: Path) -> None:
    prompted = drive(CUSTOM_KEYS)
    assert prompted == from_config(tmp_path, CUSTOM_CONFIG)
    assert prompted.placement(prompted.tenants[0]) == ("prod-eu-1", "stg-us-1")
    assert prompted.tenants[1].clusters is None  # every spoke, including later ones


def test_the_engine_question_is_skipped_when_engine_is_given(tmp_path: Path) -> None:
    prompted = drive(CUSTOM_KEYS.removeprefix(DOWN + ENTER), engine="argocd")
    assert prompted == from_config(tmp_path, CUSTOM_CONFIG)


def test_flux_asks_no_manual_sync_question() -> None:
    prompted = drive(DEFAULT_KEYS, engine="flux")  # one ENTER left over: nothing reads it
    assert prompted.engine == "flux"
    assert prompted.sync.manual_envs == ()


def model_error(check: Callable[..., object], *args: object) -> str:
    with pytest.raises(AnswersError) as caught:
        check(*args)
    return str(caught.value)


class Screen(PlainTextOutput):
    """A wide screen that types each step's keys once the previous step's text is shown.

    Keys typed ahead are handled in one batch, so an inline error would never be drawn;
    waiting for each message makes the refusal visible.
    """

    def __init__(self, pipe: PipeInput, steps: list[tuple[str, str]]) -> None:
        self.text = io.StringIO()
        super().__init__(self.text)
        self.pipe = pipe
        self.steps = steps
        self.seen_from = 0
        self.renders = 0

    def get_size(self) -> Size:
        # A new width on every render forces a full redraw: otherwise the renderer writes only
        # the changed cells, which come out in pieces without cursor movements.
        self.renders += 1
        return Size(rows=100, columns=1000 + self.renders % 2)

    def flush(self) -> None:
        super().flush()
        while self.steps and self.steps[0][0] in self.text.getvalue()[self.seen_from :]:
            _, keys = self.steps.pop(0)
            self.seen_from = len(self.text.getvalue())
            self.pipe.send_text(keys)
        if not self.steps:
            self.pipe.close()


def test_invalid_answers_are_refused_inline_with_the_model_message_and_asked_again() -> None:
    # (text that must be on screen, keys typed then): each bad answer's model message must
    # show up before the corrected answer is typed.
    steps = [
        ("GitOps engine", ENTER + typed("acme/platform")),
        (model_error(model.check_repo_name, "repo_name", "acme/platform"), typed("acme-platform")),
        ("Git URL", ENTER + typed("a..b")),
        (model_error(model.check_branch, "git_branch", "a..b"), typed("main") + typed("argocd")),
        (model_error(model.check_cluster_name, "clusters[0].name", "argocd"), typed("hub")),
        ("How many spoke clusters", typed("0")),
        ("spokes: '0' must be a whole number from 1 to 20", typed("2") + typed("hub")),
        (
            model_error(model.check_new_name, "clusters[1].name", "hub", {"hub": "clusters[0]"}),
            typed("dev-eu-1") + typed("Dev"),
        ),
        (model_error(model.check_label, "clusters[1].env", "Dev"), typed("dev") + ENTER),
        ("Spoke 2 of 2", ENTER * 3 + typed("team-a, kube-system")),
        (
            model_error(model.check_tenant_name, "tenants[1].name", "kube-system"),
            typed("team-a, dev-eu-1"),
        ),
        (
            model_error(
                model.check_new_name, "tenants[1].name", "dev-eu-1", {"dev-eu-1": "clusters[1]"}
            ),
            typed("team-a, team-b") + SPACE + DOWN + SPACE + ENTER,  # team-a on no spoke
        ),
        (
            model_error(model.check_tenant_clusters, "tenants[0].clusters", []),
            SPACE + ENTER,  # team-a on prod-eu-1 only
        ),
        ("Tenant team-b", ENTER + ENTER * 3 + typed("#alerts,ops")),
        (
            model_error(model.check_channel, "notifications.channel", "#alerts,ops"),
            typed("#alerts") + ENTER + ENTER,
        ),
        ("with these answers?", ENTER),  # the review screen: write
    ]
    with create_pipe_input() as pipe:
        screen = Screen(pipe, steps)
        closer = threading.Timer(8, pipe.close)  # a message that never shows: fail, not hang
        closer.start()
        try:
            prompted = ask_answers(input=pipe, output=screen)
        except UsageError:  # the input was closed early
            tail = screen.text.getvalue()[screen.seen_from :][-1500:]
            pytest.fail(f"never shown: {steps[0][0]!r}; screen since the last step: {tail!r}")
        finally:
            closer.cancel()

    assert steps == []
    assert prompted == load_answers(
        {
            "tenants": [{"name": "team-a", "clusters": ["prod-eu-1"]}, "team-b"],
            "notifications": {"channel": "#alerts"},
        }
    )


def test_a_suggested_spoke_name_never_clashes_with_an_earlier_answer() -> None:
    keys = ENTER * 5 + typed("2") + typed("prod-eu-1") + ENTER * 2 + ENTER * 3 + ENTER * 10
    prompted = drive(keys, engine=None)
    assert [c.name for c in prompted.spokes] == ["prod-eu-1", "spoke-1"]


@pytest.mark.parametrize(
    ("answered", "question"),
    [(0, "select"), (1, "text"), (13, "checkbox"), (15, "confirm"), (17, "select")],
)
def test_ctrl_c_at_any_question_raises_keyboard_interrupt(answered: int, question: str) -> None:
    with pytest.raises(KeyboardInterrupt):
        drive(ENTER * answered + CTRL_C)


def test_progressive_delivery_marks_the_chosen_tenants(tmp_path: Path) -> None:
    # engine given: every default up to image automation, canary, team-b instead of team-a
    keys = ENTER * 19 + DOWN + ENTER + SPACE + DOWN + SPACE + ENTER + ENTER  # review: write
    prompted = drive(keys, engine="flux")
    assert prompted.progressive_delivery == "canary"
    assert [t.canary for t in prompted.tenants] == [False, True]
    assert prompted == from_config(
        tmp_path,
        {
            **model.DEFAULT_ANSWERS,
            "progressive_delivery": "canary",
            "tenants": ["team-a", {"name": "team-b", "canary": True}],
        },
    )


def test_input_ending_early_is_one_usage_error() -> None:
    with pytest.raises(UsageError, match="input ended before every question was answered"):
        drive(ENTER * 3)


# --------------------------------------------------------------------------- a real terminal


def run_in_terminal(
    args: Sequence[str | Path], keys: str, *, cwd: Path, home: Path, wait_for: str = ""
) -> tuple[int, str, str]:
    """Run the CLI on a pseudo-terminal; type ``keys`` once ``wait_for`` is on screen."""
    cwd.mkdir(parents=True, exist_ok=True)
    main, terminal = pty.openpty()
    tty.setraw(terminal)  # typed-ahead keys arrive as typed, like in prompt_toolkit's raw mode
    process = subprocess.Popen(
        [*CLI, *map(str, args)],
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=cli_env(home, TERM="xterm"),
        start_new_session=True,
    )
    os.close(terminal)
    screen, sent = b"", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not sent and wait_for.encode() in screen:
                os.write(main, keys.encode())
                sent = True
            ready, _, _ = select.select([main], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
            elif process.poll() is not None:
                break
        else:
            process.kill()
            raise AssertionError(f"timed out; screen ends with {screen[-500:]!r}")
        assert process.stderr is not None
        stderr = process.stderr.read().decode()
        return process.wait(timeout=30), screen.decode(errors="replace"), stderr
    finally:
        os.close(main)
        if process.stderr is not None:
            process.stderr.close()


def test_ctrl_c_in_a_terminal_exits_130_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out, home = tmp_path / "out", tmp_path / "home"

    code, screen, stderr = run_in_terminal(
        ["new", "--output-dir", out], CTRL_C, cwd=tmp_path / "cwd", home=home, wait_for="GitOps"
    )

    assert "GitOps engine" in screen
    assert code == 130
    assert stderr == "error: interrupted; nothing was changed\n"
    assert not out.exists()
    assert listing(home) == []


def test_a_prompted_repo_has_the_same_platform_yaml_as_one_from_config(tmp_path: Path) -> None:
    config = tmp_path / "answers.yaml"
    config.write_text(yaml.safe_dump(CUSTOM_CONFIG), encoding="utf-8")
    prompted_out, config_out = tmp_path / "prompted", tmp_path / "from-config"

    code, screen, stderr = run_in_terminal(
        ["new", "--output-dir", prompted_out], CUSTOM_KEYS, cwd=tmp_path, home=tmp_path / "home"
    )
    assert (code, stderr) == (0, ""), screen[-2000:]
    assert "Next steps:" in screen
    done = run_cli(
        ["new", "--config", config, "--output-dir", config_out],
        cwd=tmp_path,
        home=tmp_path / "home",
    )
    assert done.returncode == 0, done.stderr

    prompted = (prompted_out / "edge-platform" / PLATFORM_FILE).read_text(encoding="utf-8")
    configured = (config_out / "edge-platform" / PLATFORM_FILE).read_text(encoding="utf-8")
    assert prompted == configured
    assert yaml.safe_load(prompted)["engine"] == "argocd"


# --------------------------------------------------------------------------- F4, F15


def test_an_existing_folder_is_refused_where_the_name_is_asked(tmp_path: Path) -> None:
    (tmp_path / "acme-platform").mkdir()
    keys = ENTER + ENTER + typed("other-platform") + ENTER * 20
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        pipe.close()
        prompted = ask_answers(input=pipe, output=DummyOutput(), output_dir=tmp_path)
    assert prompted.repo_name == "other-platform"
    assert prompted.git_url == model.default_git_url("other-platform")
    with create_pipe_input() as pipe:  # --force replaces a generated repo: the name is fine
        pipe.send_text(DEFAULT_KEYS)
        pipe.close()
        forced = ask_answers(input=pipe, output=DummyOutput(), output_dir=tmp_path, force=True)
    assert forced.repo_name == "acme-platform"


def test_the_review_screen_shows_the_answers_and_can_go_back() -> None:
    screen = io.StringIO()
    first_round = ENTER * 21 + DOWN + ENTER  # every default, then "change the answers"
    # every question again with the last answers suggested: keep all but the repo name
    second_round = ENTER + typed("second-platform") + ENTER * 19 + ENTER
    with create_pipe_input() as pipe:
        pipe.send_text(first_round + second_round)
        pipe.close()
        prompted = ask_answers(input=pipe, output=PlainTextOutput(screen))
    shown = screen.getvalue()
    assert "Your answers (written to platform.yaml):" in shown
    assert "repo_name: acme-platform" in shown and "repo_name: second-platform" in shown
    assert prompted == load_answers(
        {
            **model.DEFAULT_ANSWERS,
            "repo_name": "second-platform",
            "git_url": model.default_git_url("second-platform"),
        }
    )


def test_changed_answers_are_suggested_again(tmp_path: Path) -> None:
    change = DOWN + ENTER
    keys = CUSTOM_KEYS.removesuffix(ENTER) + change  # review: change instead of write
    keys += ENTER * 4  # engine, repo, URL and branch as answered
    keys += ENTER * 2 + ENTER * 9  # hub, 3 spokes with their answers
    keys += ENTER + ENTER + ENTER  # tenants, and their placements as chosen
    keys += ENTER * 6  # secrets x2, notifications, channel, images, progressive delivery
    keys += ENTER + ENTER  # manual sync as chosen; review: write
    prompted = drive(keys)
    assert prompted == from_config(tmp_path, CUSTOM_CONFIG)


def test_cancel_on_the_review_screen_saves_the_answers_and_writes_nothing(tmp_path: Path) -> None:
    out, cwd = tmp_path / "out", tmp_path / "cwd"
    cancel = ENTER * 21 + DOWN + DOWN + ENTER
    code, screen, stderr = run_in_terminal(
        ["new", "--output-dir", out], cancel, cwd=cwd, home=tmp_path / "home"
    )
    saved = cwd / "acme-platform.answers.yaml"
    assert code == 1, screen[-2000:]
    assert stderr.startswith(f"error: cancelled: nothing was written; your answers are in {saved}")
    assert not out.exists()
    assert read_answers_file(saved) == model.default_platform()
    # the command it names works as printed
    again = run_cli(
        ["new", "--config", saved, "--output-dir", out], cwd=cwd, home=tmp_path / "home"
    )
    assert again.returncode == 0, again.stderr


def test_a_failure_after_the_questions_keeps_the_answers(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder\n")
    code, screen, stderr = run_in_terminal(
        ["new", "--output-dir", blocked], DEFAULT_KEYS, cwd=cwd, home=tmp_path / "home"
    )
    saved = cwd / "acme-platform.answers.yaml"
    assert code == 2, screen[-2000:]
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr
    assert "exists and is not a folder" in stderr
    assert f"your answers are in {saved} (gitops-scaffold new --config '{saved}')" in stderr
    assert read_answers_file(saved) == model.default_platform()
    # a second failure does not overwrite the first file
    run_in_terminal(["new", "--output-dir", blocked], DEFAULT_KEYS, cwd=cwd, home=tmp_path / "h")
    assert (cwd / "acme-platform.answers-2.yaml").is_file()


def test_a_spoke_named_after_its_environment_gets_it_suggested() -> None:
    # 3 spokes: the third, prod-us-1, is beyond the defaults (which would suggest staging)
    keys = ENTER * 5 + typed("3") + ENTER * 6 + typed("prod-us-1") + ENTER + ENTER
    keys += ENTER * 12  # tenants, 2 x placement (3 spokes), options, review
    prompted = drive(keys, engine=None)
    assert [(c.name, c.env) for c in prompted.spokes][-1] == ("prod-us-1", "prod")
