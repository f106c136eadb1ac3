"""The Pulumi provider plugins the program needs: which, where the CLI would find them, and what the CLI says when
it cannot. Pure except for reading the file system (never imports a provider SDK: ``doctor`` stays fast).

Each provider SDK the program imports ships ``pulumi-plugin.json`` (``{"resource": true, "name": "aws", "version":
"7.51.1"}``): the plugin and version its resources ask the CLI for. The CLI looks in ``$PULUMI_HOME/plugins``
(default ``~/.pulumi/plugins``; one directory ``resource-<name>-v<version>`` per plugin), then, unless
``PULUMI_IGNORE_AMBIENT_PLUGINS`` is set, for a ``pulumi-resource-<name>`` on ``PATH`` (any version). When neither
has it the CLI tries to download it (get.pulumi.com / GitHub), and says so on failure
(pulumi/pkg/workspace/plugin.go ``InstallPluginError``; pulumi/sdk/go/common/workspace/plugins.go).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The provider SDKs the program imports (requirements.txt pins them; tests/engine/test_plugins.py keeps the two equal).
PROGRAM_SDKS = ("pulumi_aws", "pulumi_eks", "pulumi_kubernetes", "pulumi_random")

# The CLI's two messages for a plugin it cannot have (pulumi 3.274.1): not installed and downloads off, or the
# download failed. Both name the plugin as `pulumi-<kind>-<name>`, and usually its version.
_NOT_FOUND = re.compile(r"no (?P<kind>resource|analyzer|language|converter|tool) plugin 'pulumi-(?P=kind)-(?P<name>[^']+)' "
                        r"found in the workspace(?: at version v?(?P<version>[0-9][^\s,;:]*))?")
_NO_DOWNLOAD = re.compile(r"[Cc]ould not automatically download and install (?P<kind>resource|analyzer|language|converter|tool) "
                          r"plugin 'pulumi-(?P=kind)-(?P<name>[^']+)'(?: at version v?(?P<version>[0-9][^\s,;:]*))?")


@dataclass(frozen=True)
class Plugin:
    kind: str
    name: str
    version: str | None

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}" if self.version else self.name

    def install_command(self) -> str:
        return f"pulumi plugin install {self.kind} {self.name}" + (f" v{self.version}" if self.version else "")


def missing_plugin(text: str) -> Plugin | None:
    """The plugin the CLI's output says it could not find or download, if any."""
    for pattern in (_NOT_FOUND, _NO_DOWNLOAD):
        m = pattern.search(text)
        if m:
            return Plugin(m["kind"], m["name"], m["version"])
    return None


def missing_message(plugin: Plugin) -> str:
    """One line: the plugin, its version, how to install it, and where to see them all."""
    return (f"the Pulumi provider plugin {plugin.label} is not installed and the CLI could not download it: run "
            f"`{plugin.install_command()}` where it can be downloaded (or `... --file PATH` with a built plugin), or give "
            "the runner access to get.pulumi.com; `doctor` lists every plugin the program needs")


def required(sdks: tuple[str, ...] = PROGRAM_SDKS) -> tuple[Plugin | str, ...]:
    """The plugin each SDK asks for, from its ``pulumi-plugin.json`` (found, not imported); for an SDK that is not
    installed or says nothing, a string saying so."""
    out: list[Plugin | str] = []
    for sdk in sdks:
        spec = importlib.util.find_spec(sdk)
        if spec is None or not spec.submodule_search_locations:
            out.append(f"{sdk} is not installed (pip install -r requirements.txt)")
            continue
        meta = Path(next(iter(spec.submodule_search_locations))) / "pulumi-plugin.json"
        try:
            doc = json.loads(meta.read_text(encoding="utf-8"))
            out.append(Plugin("resource", str(doc["name"]), str(doc["version"]).removeprefix("v")))
        except (OSError, ValueError, KeyError, TypeError):
            out.append(f"{sdk} has no readable pulumi-plugin.json ({meta})")
    return tuple(out)


def plugins_dir(environ: Mapping[str, str]) -> Path:
    home = environ.get("PULUMI_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".pulumi")
    return Path(home) / "plugins"


def locate(plugin: Plugin, environ: Mapping[str, str], cli_dir: Path | None = None) -> tuple[str, str]:
    """(``ok`` | ``warn`` | ``missing``, where the CLI would find ``plugin``, or what to do)."""
    base = plugins_dir(environ)
    exact = base / f"{plugin.kind}-{plugin.name}-v{plugin.version}"
    if exact.is_dir() and any(exact.iterdir()):
        return "ok", f"{plugin.label} in {exact}"
    binary = f"pulumi-{plugin.kind}-{plugin.name}"
    if not environ.get("PULUMI_IGNORE_AMBIENT_PLUGINS"):
        path = environ.get("PATH", "")
        if cli_dir is not None:
            path = f"{cli_dir}{':' + path if path else ''}"
        found = shutil.which(binary, path=path)
        if found:
            return "ok", f"{found} on PATH (the CLI uses it for any version; the program asks for v{plugin.version})"
    others = sorted(p.name for p in base.glob(f"{plugin.kind}-{plugin.name}-v*") if p.is_dir()) if base.is_dir() else []
    where = f"installed: {', '.join(others)}; " if others else ""
    return "missing", (f"{plugin.label} not in {base} nor on PATH ({where}the CLI downloads it on first use where "
                       f"get.pulumi.com is reachable; else `{plugin.install_command()} --file PATH`)")
