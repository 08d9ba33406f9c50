"""`gitops-scaffold secrets rotate`: a new age key for one cluster (or the admin), every file
it opens encrypted again.

1. The new key is made in memory. Every SOPS file whose `.sops.yaml` rule names the old key
   goes through `sops rotate` from memory to memory (in parallel): a new data key, every
   value encrypted again, the old recipient replaced by the new one. The data key is opened
   with one key file that the file names: the old key itself, else the admin key (for the
   admin key: the file's cluster key), so a lost cluster key is recovered with the admin key.
   No plaintext is written anywhere.
2. `.sops.yaml` is rendered again from the public keys (it is derived, like every file that
   lists clusters), and everything lands in one ``Transaction`` (``landing.land``), with the
   new `.sops.yaml` on the pristine branch, so `check` and `update` compare with it.
3. Then the keys folder: the old key is renamed ``<name>.agekey.old`` (never overwritten,
   never deleted unless ``--prune-old``) and the new one written beside it (0600, O_EXCL). A
   failure at any point puts the keys folder and the repo back byte for byte.

Files of other rules are not read, let alone written: they stay byte-identical.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from scaffolder import keys, pristine, sops, written
from scaffolder.errors import UsageError
from scaffolder.generate import SOPS_CONFIG, default_keys_dir
from scaffolder.landing import land
from scaffolder.model import Platform
from scaffolder.quoting import shell_word
from scaffolder.render import File, Renderer
from scaffolder.repo_state import public_keys, read_platform
from scaffolder.tools import find_sops

OLD_SUFFIX = ".old"
# The in-cluster Secret Flux decrypts with, and the field manager of scripts/bootstrap.sh
# (the same manager, so applying the new key alone later drops the old entry).
SOPS_SECRET = "sops-age"
FIELD_MANAGER = "gitops-scaffold-bootstrap"


@dataclass(frozen=True)
class Rotation:
    repo_dir: Path
    name: str  # the rotated key: a cluster's name or "admin"
    key: keys.AgeKey  # the new key
    kept: Path | None  # the old key, renamed; None when pruned or when there was none
    pruned: list[Path]
    rotated: list[str]  # the files encrypted again
    committed: bool
    recovered: bool
    next_steps: list[str]


def old_key_path(keys_dir: Path, name: str) -> Path:
    return keys_dir / (keys.key_file_name(name) + OLD_SUFFIX)


def _affected(repo_dir: Path, config_text: str, old_public: str) -> list[str]:
    """The SOPS files whose rule (the first that matches, as sops picks it) names the key."""
    rules = sops.read_rules(config_text)
    found = []
    for relative in sops.find_sops_files(repo_dir):
        rule = next((r for pattern, r in rules if pattern.search(relative)), None)
        if rule is not None and old_public in rule:
            found.append(relative)
    return found


def _opener(relative: str, text: str, name: str, keys_dir: Path, names: dict[str, str]) -> Path:
    """A key file in ``keys_dir`` that opens ``text``: the rotated key, else another recipient."""
    recipients = sops.recipients_of(text)
    if not recipients:
        raise UsageError(f"{relative} is not encrypted: encrypt it first; nothing was changed")
    order = [name] + [names[r] for r in recipients if r in names and names[r] != name]
    for candidate in order:
        path = keys_dir / keys.key_file_name(candidate)
        if path.is_file() and keys.read_public_key(path) in recipients:
            return path
    raise UsageError(
        f"no key in {keys_dir} opens {relative} (it is encrypted for "
        f"{', '.join(names.get(r, r) for r in recipients)}): pass --keys-dir; nothing was changed"
    )


@contextlib.contextmanager
def _swap_keys(
    keys_dir: Path, name: str, new: keys.NewKey, *, prune_old: bool
) -> Iterator[tuple[Path | None, list[Path]]]:
    """Keep the current key as ``<name>.agekey.old`` and write the new one; undone on failure.

    With ``prune_old`` the current key is kept under a temporary name until the change has
    landed, then deleted with any ``.old`` an earlier rotation left.
    """
    current = keys_dir / keys.key_file_name(name)
    old = old_key_path(keys_dir, name)
    kept = keys_dir / (keys.key_file_name(name) + ".rotating") if prune_old else old
    linked = False
    try:
        if current.is_file():
            os.link(current, kept)  # fails rather than replace an existing file
            linked = True
            current.unlink()
        with keys.written_until_failure(keys_dir, {name: new}):
            pruned = [p for p in (kept, old) if prune_old and p.is_file()]
            yield (None if prune_old or not linked else kept), pruned
    except BaseException:
        if linked:
            os.replace(kept, current)
        raise
    for path in pruned:
        path.unlink()  # --prune-old: the only deletion of a private key, asked for


def rotate(
    repo_dir: Path,
    *,
    cluster: str | None = None,
    admin: bool = False,
    keys_dir: Path | None = None,
    prune_old: bool = False,
    commit: bool = False,
) -> Rotation:
    """Rotate ``cluster``'s age key (or the admin key) of the repo at ``repo_dir``."""
    if bool(cluster) == admin:
        raise UsageError("secrets rotate: pass one of --cluster NAME or --admin")
    repo_dir = repo_dir.absolute()
    platform = read_platform(repo_dir)
    name = keys.ADMIN_KEY if admin else str(cluster)
    if not admin and not any(c.name == name for c in platform.clusters):
        raise UsageError(f"cluster {name} is not in platform.yaml; nothing was changed")
    keys_dir = (keys_dir or default_keys_dir(repo_dir.parent, platform.repo_name)).absolute()
    public = public_keys(repo_dir, platform)
    names = {key: key_name for key_name, key in public.items()}
    config_text = (repo_dir / SOPS_CONFIG).read_text(encoding="utf-8")
    if config_text != _sops_config(platform, public).content:
        raise UsageError(
            f"{SOPS_CONFIG} differs from what gitops-scaffold derives from platform.yaml (edited "
            "by hand?): restore it from git first; nothing was changed"
        )
    current = keys_dir / keys.key_file_name(name)
    if current.is_file() and keys.read_public_key(current) != public[name]:
        raise UsageError(
            f"{current} is not the key {SOPS_CONFIG} names for {name}: wrong --keys-dir?; "
            "nothing was changed"
        )
    old = old_key_path(keys_dir, name)
    if old.exists() and not prune_old:
        raise UsageError(
            f"{old} is left from an earlier rotation: once {name} runs with the current key, "
            "pass --prune-old to delete it (this rotation's old key goes too); "
            "nothing was changed"
        )
    new = keys.new_keys([name])[name]
    affected = _affected(repo_dir, config_text, public[name])
    texts = {r: (repo_dir / r).read_text(encoding="utf-8") for r in affected}
    openers = {r: _opener(r, texts[r], name, keys_dir, names) for r in affected}
    tool = find_sops()

    def one(relative: str) -> str:
        return sops.rotate_text(
            relative, texts[relative], add=new.public, remove=public[name],
            key_file=openers[relative], sops=tool,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(affected)))) as pool:
        rotated = dict(zip(affected, pool.map(one, affected), strict=True))
    new_config = _sops_config(platform, {**public, name: new.public})
    content = {r: text.encode("utf-8") for r, text in rotated.items()}
    content[SOPS_CONFIG] = new_config.content.encode("utf-8")
    # A file the record knew as this tool's (unedited) stays known; a filled-in one does not
    # become "as written" by being encrypted again.
    record = written.read(repo_dir)
    known = {SOPS_CONFIG} | {
        p for p in affected if written.fingerprint(p, texts[p].encode("utf-8")) == record.get(p)
    }
    landed = land(
        repo_dir, {p: (data, False) for p, data in content.items()},
        fingerprinted={p: data for p, data in content.items() if p in known},
        # .sops.yaml is generated: the pristine record follows, or `check` and `update` would
        # find it changed. The rotated files' plaintext, hence their templates, is as it was.
        generated=pristine.change_of({SOPS_CONFIG: new_config}),
        message=f"Rotate the {name} age key (gitops-scaffold)", commit=commit, point="rotate",
        outside=_swap_keys(keys_dir, name, new, prune_old=prune_old),
    )  # fmt: skip
    assert landed.outside is not None  # the keys step ran: the change landed
    kept, pruned = landed.outside
    key = keys.AgeKey(name, new.public, current)
    return Rotation(
        repo_dir, name, key, kept, pruned, affected, landed.committed, landed.recovered,
        next_steps(platform, name, key, kept),
    )  # fmt: skip


def _sops_config(platform: Platform, public: dict[str, str]) -> File:
    return Renderer(platform, public).root()[SOPS_CONFIG]


def next_steps(platform: Platform, name: str, key: keys.AgeKey, kept: Path | None) -> list[str]:
    """What to run where the key is used: with Flux, the hub's sops-age Secret of the
    cluster's namespace (flux-system for the hub), server-side so no key lands in an
    annotation; nothing holds the admin key, nor any key with Argo CD."""
    if name == keys.ADMIN_KEY:
        return ["No cluster holds the admin key: keep the new one where the old one was kept."]
    if platform.engine != "flux":
        return [
            "No cluster holds an age key with Argo CD: scripts/bootstrap.sh decrypts with "
            "--keys-dir, so run it again once the change is pushed."
        ]
    hub = platform.hub.name
    namespace = "flux-system" if name == hub else name

    def command(*files: tuple[str, Path]) -> str:
        sources = " ".join(shell_word(f"--from-file={k}={p}") for k, p in files)
        return (
            f"kubectl --context {shell_word(hub)} create secret generic {SOPS_SECRET} "
            f"--namespace={shell_word(namespace)} {sources} --dry-run=client -o yaml"
            f" | kubectl --context {shell_word(hub)} apply --server-side --force-conflicts "
            f"--field-manager={FIELD_MANAGER} -f -"
        )

    steps = []
    if kept is not None:
        steps += [
            f"Before pushing, let Flux decrypt with both keys (it reads every *.agekey entry) "
            f"in Secret {namespace}/{SOPS_SECRET} on the hub:",
            "  " + command(("age.agekey", key.path), ("old.agekey", kept)),
            "Once the push has reconciled, the new key alone:",
        ]
    else:
        steps.append(f"Replace Secret {namespace}/{SOPS_SECRET} on the hub, then push:")
    steps.append("  " + command(("age.agekey", key.path)))
    return steps
