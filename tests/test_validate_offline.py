"""`validate` never reaches the network unless asked (review-adversarial M3, L13, L14).

A real HTTP server on 127.0.0.1 stands for every endpoint a pull request could point a
kustomization at. In the review (v-remote-loopback-fetch) kustomize fetched from it three
times; here it must receive no connection at all. Go never sends loopback requests through a
proxy, so only validate's static check can keep these requests from being made.

The same server, named as the HTTP(S) proxy of a `validate` subprocess, sees every request
for a schema: none by default, the catalog's when `--schema-location catalog` asks for it.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scaffolder.commands.validate import validate
from scaffolder.generate import GeneratedRepo
from scaffolder.validate.findings import Finding
from scaffolder.validate.kustomize import build, is_remote, mask_credentials
from tests.cli_helpers import cli_env, one_error_line, run_cli
from tests.test_validate_rules import CONFIG_MAP, FLUX_SYNC, write_tree

REMOTE = "build/remote-resource"
OUTSIDE = "build/outside-repo"
WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: apps}\n"
WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
    },
    "additionalProperties": False,
}


class Loopback:
    """An HTTP server on 127.0.0.1 (an ephemeral port) that records every connection and
    request it gets, and serves ``files`` (a valid ConfigMap for any other path)."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[str] = []
        self.files: dict[str, bytes] = {}
        self.server = _RecordingServer(self)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def env(self, home: Path, cache: Path) -> dict[str, str]:
        """A CLI environment whose HTTP(S) proxy is this server, with an empty schema cache."""
        proxies = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
        return cli_env(
            home,
            **dict.fromkeys(proxies, self.url),
            NO_PROXY="",
            no_proxy="",
            GITOPS_SCAFFOLD_CACHE=str(cache),
        )


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, loopback: Loopback) -> None:
        super().__init__(("127.0.0.1", 0), _handler(loopback))
        self.loopback = loopback

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.loopback.connections += 1
        return True


def _handler(loopback: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            loopback.requests.append(f"GET {self.path}")
            body = loopback.files.get(self.path, (CONFIG_MAP % "fetched").encode())
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_CONNECT(self) -> None:  # a proxy request for an https:// URL
            loopback.requests.append(f"CONNECT {self.path}")
            self.send_error(502)

        def do_POST(self) -> None:  # git's upload-pack
            loopback.requests.append(f"POST {self.path}")
            self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def where(findings: list[Finding], check: str) -> list[tuple[str, int | None]]:
    return sorted((f.file, f.line) for f in findings if f.check == check)


def json_findings(stdout: str) -> list[Finding]:
    return [Finding(**f) for f in json.loads(stdout)["findings"]]


def line_at(repo: Path, finding: Finding) -> str:
    assert finding.line is not None, finding
    return (repo / finding.file).read_text().splitlines()[finding.line - 1]


# --------------------------------------------------------------------------- M3: remote entries


def remote_repo(root: Path, url: str) -> Path:
    """Kustomizations that name the loopback server directly, through a nested local base,
    and through components; one clean kustomization with a schema error only its build has."""
    component = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
    return write_tree(
        root,
        {
            "apps/kustomization.yaml": f"resources:\n- cm.yaml\n- {url}/apps.yaml\n",
            "apps/cm.yaml": CONFIG_MAP % "apps",
            "base/kustomization.yaml": f"resources:\n- {url}/base.yaml\n",
            "overlay/kustomization.yaml": "resources:\n- ../base\n- cm.yaml\n",
            "overlay/cm.yaml": CONFIG_MAP % "overlay",
            "component/kustomization.yaml": f"{component}resources:\n- {url}/component.yaml\n",
            "with-component/kustomization.yaml": (
                f"resources:\n- cm.yaml\ncomponents:\n- ../component\n"
                f"- {url}/org/repo//component?ref=v1\n"
            ),
            "with-component/cm.yaml": CONFIG_MAP % "with-component",
            "clean/kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- path: patch.yaml\n",
            "clean/cm.yaml": CONFIG_MAP % "clean",
            "clean/patch.yaml": CONFIG_MAP % "clean" + "datta: {seeded: error}\n",
            "root/kustomization.yaml": "resources:\n- ../clean\n- ../overlay\n",
        },
    )


REMOTE_ENTRIES = [
    ("apps/kustomization.yaml", 3, "/apps.yaml"),
    ("base/kustomization.yaml", 2, "/base.yaml"),
    ("component/kustomization.yaml", 4, "/component.yaml"),
    ("with-component/kustomization.yaml", 5, "/org/repo//component?ref=v1"),
]


def test_m3_remote_entries_are_findings_and_never_fetched(
    tmp_path: Path, loopback: Loopback
) -> None:
    """M3 (v-remote-loopback-fetch): direct, through a nested base and through components."""
    repo = remote_repo(tmp_path / "repo", loopback.url)
    report = validate(repo, jobs=2, any_folder=True)

    assert loopback.connections == 0, loopback.requests
    remote = [f for f in report.findings if f.check == REMOTE]
    assert [(f.file, f.line) for f in remote] == [(f, n) for f, n, _ in REMOTE_ENTRIES]
    for finding, (_, _, entry) in zip(remote, REMOTE_ENTRIES, strict=True):
        assert f"'{loopback.url}{entry}'" in finding.message
        assert entry in line_at(repo, finding)
        assert "not built" in finding.message
    # Nothing was built that reaches the server, so no build failed; the clean kustomization
    # (included by root, which is not built) was built on its own: its patch's error is seen.
    assert where(report.findings, "build/kustomize") == []
    invalid = [f for f in report.findings if f.check == "schema/invalid"]
    assert [(f.file, f.line) for f in invalid] == [("clean/cm.yaml", 1)]
    assert "as built from clean" in invalid[0].message and "datta" in invalid[0].message
    assert report.summary.builds >= 1
    assert len(report.findings) == len(REMOTE_ENTRIES) + 1


def test_m3_the_cli_fetches_nothing_either(tmp_path: Path, loopback: Loopback) -> None:
    """M3 (v-remote-loopback-fetch) through `gitops-scaffold validate`, as CI runs it."""
    repo = remote_repo(tmp_path / "repo", loopback.url)
    home = tmp_path / "home"
    done = run_cli(["validate", repo, "--any-folder", "--format", "json"], cwd=tmp_path, home=home)

    assert done.returncode == 1, done.stderr
    assert loopback.connections == 0, loopback.requests
    findings = json_findings(done.stdout)
    assert where(findings, REMOTE) == [(f, n) for f, n, _ in REMOTE_ENTRIES]
    assert where(findings, "schema/invalid") == [("clean/cm.yaml", 1)]


def test_m3_every_field_kustomize_fetches_from_is_a_finding_at_its_line(
    tmp_path: Path, loopback: Loopback
) -> None:
    """M3: patches, generator files, crds, openapi, plugin configs (inline, in a file, in a
    folder), helmCharts: one finding per entry, at its line; nothing built, nothing fetched."""
    url = loopback.url
    patch = f"apiVersion: builtin\nkind: PatchTransformer\nmetadata: {{name: p}}\npath: {url}/p\n"
    generator = (
        "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: g}\n"
        f"files:\n- key={url}/generated.txt\n"
    )
    kustomization = f"""\
resources: [cm.yaml]
patches:
- path: {url}/patch.yaml
patchesStrategicMerge:
- {url}/smp.yaml
crds:
- {url}/crd.yaml
configurations:
- {url}/config.yaml
openapi:
  path: {url}/openapi.json
configMapGenerator:
- name: data
  files:
  - key={url}/file.txt
  envs:
  - {url}/env.txt
transformers:
- patch-transformer.yaml
- |
  apiVersion: builtin
  kind: PatchTransformer
  metadata: {{name: inline}}
  path: {url}/inline.yaml
generators:
- generators
helmCharts:
- name: chart
  repo: {url}/charts
"""
    repo = write_tree(
        tmp_path / "repo",
        {
            "apps/kustomization.yaml": kustomization,
            "apps/cm.yaml": CONFIG_MAP % "apps",
            "apps/patch-transformer.yaml": patch,
            "apps/generators/kustomization.yaml": "resources: [generator.yaml]\n",
            "apps/generators/generator.yaml": generator,
        },
    )
    report = validate(repo, jobs=2, any_folder=True)

    assert loopback.connections == 0, loopback.requests
    lines = [3, 5, 7, 9, 11, 15, 17, 20, 29]  # 20: the inline transformer
    assert where(report.findings, REMOTE) == [
        ("apps/generators/generator.yaml", 5),
        *(("apps/kustomization.yaml", line) for line in lines),
        ("apps/patch-transformer.yaml", 4),
    ]
    assert all(url in f.message for f in report.findings if f.check == REMOTE)
    assert where(report.findings, "build/kustomize") == []


def test_m3_a_kustomization_validate_does_not_list_is_checked_all_the_same(
    tmp_path: Path, loopback: Loopback
) -> None:
    """M3: a git-ignored base (or one in a submodule) is not among the files validate reads,
    but kustomize reads it: its remote entry is found and nothing that includes it is built."""
    repo = write_tree(
        tmp_path / "repo",
        {
            ".gitignore": "vendor/\n",
            "apps/kustomization.yaml": "resources:\n- ../vendor/base\n",
            "vendor/base/kustomization.yaml": f"resources:\n- {loopback.url}/vendored.yaml\n",
        },
    )
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    report = validate(repo, jobs=1, any_folder=True)

    assert loopback.connections == 0, loopback.requests
    assert where(report.findings, REMOTE) == [("vendor/base/kustomization.yaml", 2)]
    assert report.summary.builds == 0


@pytest.mark.parametrize(
    "entry",
    [
        "http://10.0.0.1/cm.yaml",
        "HTTPS://example.com/cm.yaml",
        "git::https://example.com/org/repo",
        "git@github.com:org/repo",
        "git@github.com/org/repo",
        "ssh://git@example.com/org/repo",
        "gh:org/repo",
        "github.com/org/repo/base",
        "file:///etc",
        "s3::https://bucket.s3.amazonaws.com/x",
        "example.com/org/repo//base?ref=v1",
        "base?ref=main",
        "org/repo//base",
        "oci://registry/chart",
    ],
)
def test_m3_entries_kustomize_would_fetch_are_remote(entry: str) -> None:
    """M3: every form kustomize (or an older kustomize's go-getter) reads remotely."""
    assert is_remote(entry)


@pytest.mark.parametrize(
    "entry", ["cm.yaml", "./base", "../../base", "/etc/passwd", "icon@2x.png", "my file.yaml"]
)
def test_m3_local_paths_are_not_remote(entry: str) -> None:
    assert not is_remote(entry)


def test_m3_credentials_in_entries_are_masked() -> None:
    """M3: a finding names the entry, never a token it carries."""
    assert mask_credentials("https://user:tok@host/x?ref=v1&token=s3cr3t") == (
        "https://***@host/x?ref=v1&token=***"
    )
    assert mask_credentials("git::https://tok@host/org/repo") == "git::https://***@host/org/repo"
    assert mask_credentials("user:pass@host:org/repo") == "***@host:org/repo"
    assert mask_credentials("git@github.com:org/repo") == "git@github.com:org/repo"


def test_m3_kustomize_runs_with_the_network_refused(tmp_path: Path) -> None:
    """M3, second layer: given a remote entry anyway, kustomize's requests go to a proxy that
    refuses them, and git may use no transport (names that need DNS or the internet)."""
    for name, entry in [
        ("http", "resources:\n- http://gitops-scaffold.invalid/cm.yaml\n"),
        ("git", "components:\n- https://github.com/acme/unknown//c?ref=v1\n"),
    ]:
        folder = write_tree(tmp_path / name, {"kustomization.yaml": entry})
        result = build(folder)
        assert not result.ok
        assert "connection refused" in result.output or "not allowed" in result.output, (
            result.output
        )


# --------------------------------------------------------------------------- L14: outside


def test_l14_paths_outside_the_repo_are_findings_never_read(tmp_path: Path) -> None:
    """L14 (v-generator-outside): generators reading /etc/passwd or ../../outside, absolute
    resources, a symbolic link out, a Flux path holding one. None is built or read."""
    outside = write_tree(
        tmp_path / "outside",
        {"stolen.key": "TOP-SECRET-CONTENT\n", "cm.yaml": CONFIG_MAP % "outside"},
    )
    repo = write_tree(
        tmp_path / "repo",
        {
            "gen/kustomization.yaml": (
                "configMapGenerator:\n- name: passwd\n  files:\n  - /etc/passwd\n"
                "secretGenerator:\n- name: stolen\n  files:\n  - ../../outside/stolen.key\n"
            ),
            "abs/kustomization.yaml": f"resources:\n- {outside}\n",
            "link/kustomization.yaml": "resources:\n- escape.yaml\n",
            "clusters/hub/sync.yaml": FLUX_SYNC,
            "apps/cm.yaml": CONFIG_MAP % "apps",
        },
    )
    (repo / "link" / "escape.yaml").symlink_to(outside / "cm.yaml")
    (repo / "apps" / "escape.yaml").symlink_to(outside / "cm.yaml")
    report = validate(repo, jobs=2, any_folder=True)

    assert where(report.findings, OUTSIDE) == [
        ("abs/kustomization.yaml", 2),
        ("clusters/hub/sync.yaml", 6),
        ("gen/kustomization.yaml", 4),
        ("gen/kustomization.yaml", 8),
        ("link/kustomization.yaml", 2),
    ]
    assert report.summary.builds == 0
    assert where(report.findings, "build/kustomize") == []
    assert where(report.findings, "secrets/plaintext-secret") == []  # stolen.key: never read
    assert not any("TOP-SECRET" in f.message for f in report.findings)


# --------------------------------------------------------------------------- schemas


def widget_repo(root: Path) -> Path:
    return write_tree(root, {"apps/widget.yaml": WIDGET + "spec: {size: big}\n"})


def test_schemas_are_offline_by_default_and_the_catalog_only_when_asked(
    tmp_path: Path, loopback: Loopback
) -> None:
    """A custom kind with no bundled schema: the default run asks the network nothing (the
    server is every proxy, the cache is empty) and says how to ask for the catalog."""
    repo = widget_repo(tmp_path / "repo")
    cache = tmp_path / "cache"
    home = tmp_path / "home"
    env = loopback.env(home, cache)

    def run(*options: str) -> list[Finding]:
        args = ["validate", repo, "--any-folder", "--format", "json", *options]
        done = run_cli(args, cwd=tmp_path, home=home, env=env)
        assert done.returncode == 1, done.stderr
        return json_findings(done.stdout)

    offline = run()
    assert loopback.connections == 0, loopback.requests
    assert not cache.exists() or not any(cache.iterdir())
    assert [f.check for f in offline] == ["schema/unknown-kind"]
    assert "--schema-location catalog" in offline[0].message

    asked = run("--schema-location", "default", "--schema-location", "catalog")
    assert loopback.requests == ["CONNECT raw.githubusercontent.com:443"]
    assert [f.check for f in asked] == ["schema/unknown-kind"]
    assert "unreachable" in asked[0].message


def test_a_url_template_asked_for_is_fetched_and_cached(
    tmp_path: Path, loopback: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An explicit --schema-location URL template is a request to fetch: it is honoured."""
    monkeypatch.setenv("GITOPS_SCAFFOLD_CACHE", str(tmp_path / "cache"))
    loopback.files["/example.com/widget_v1.json"] = json.dumps(WIDGET_SCHEMA).encode()
    template = loopback.url + "/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
    repo = widget_repo(tmp_path / "repo")

    for _ in range(2):  # the second run is served by the cache
        report = validate(repo, schema_locations=[template], jobs=1, any_folder=True)
        assert [(f.check, f.file) for f in report.findings] == [
            ("schema/invalid", "apps/widget.yaml")
        ]
        assert "spec.size" in report.findings[0].message
    assert loopback.requests == ["GET /example.com/widget_v1.json"]


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("https://x/{{.Nope}}.json", "unknown placeholder {{.Nope}}"),
        ("missing", "no such folder"),
        ("broken", "widget_v1.json"),
        ("unresolvable", "cannot be used: Unresolvable"),
    ],
)
def test_l13_a_bad_schema_location_is_one_line_and_exit_2(
    tmp_path: Path, location: str, message: str
) -> None:
    """L13 (v-schema-bad-placeholder): no traceback, whatever is wrong with the location."""
    repo = widget_repo(tmp_path / "repo")
    write_tree(
        tmp_path / "schemas",
        {
            "broken/example.com/widget_v1.json": "{not json",
            "unresolvable/example.com/widget_v1.json": '{"$ref": "http://127.0.0.1:1/x.json"}',
        },
    )
    if not location.startswith("https:"):
        location = str(tmp_path / "schemas" / location)
    done = run_cli(
        ["validate", repo, "--any-folder", "--schema-location", location],
        cwd=tmp_path,
        home=tmp_path / "home",
    )
    assert done.returncode == 2
    assert message in one_error_line(done.stderr)
    assert done.stdout == ""


# --------------------------------------------------------------------------- clean repos


def test_a_clean_generated_repo_validates_offline_with_no_findings(
    repo_factory: Callable[[str, str], GeneratedRepo],
    engine: str,
    tmp_path: Path,
    loopback: Loopback,
) -> None:
    """The default run (bundled schemas, builds) of a generated repo: clean and offline."""
    repo = repo_factory(engine, "default").repo_dir
    home = tmp_path / "home"
    env = loopback.env(home, tmp_path / "cache")
    done = run_cli(
        ["validate", repo, "--any-folder", "--format", "json"], cwd=tmp_path, home=home, env=env
    )
    assert json_findings(done.stdout) == []
    assert done.returncode == 0, done.stderr
    assert loopback.connections == 0, loopback.requests
