"""Effective configuration: defaults < config.toml < environment < command-line flags.

Nothing here reads the environment at import time (huggingface_hub's import-time constants force
tests to monkey-patch modules); :func:`load_settings` takes the environment as an argument and
returns a frozen :class:`Settings` that is passed down explicitly. Tokens are wrapped in
:class:`Secret` so that no repr, log line or JSON dump can leak them.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import platformdirs

from modelshelf.errors import ConfigError
from modelshelf.secrets import MASK, Secret, mask_userinfo, proxy_password

PROXY_SCHEMES = ("http", "https", "all")  # all_proxy: the fallback for either scheme
SOURCE_NAMES = ("hf", "civitai", "url", "torchvision", "local")
DEFAULT_ENDPOINTS = {"hf": "https://huggingface.co", "civitai": "https://civitai.com"}
TRUE_WORDS = {"1", "true", "yes", "on"}
_SOURCE_KEYS = frozenset({"enabled", "timeout_seconds", "verify_ssl", "endpoint", "token"})


class _AnyName:
    """The schema of a table whose keys are the user's own names ([aliases], [presets])."""

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())


class _EachName(Mapping[str, Any]):
    """The schema of a table of the user's own names whose every entry has the same keys
    ([profiles.NAME] gpu/disk): any name, each checked against ``keys``."""

    def __init__(self, keys: frozenset[str]) -> None:
        self._keys = keys

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> frozenset[str]:
        return self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


PROFILE_KEYS = frozenset({"gpu", "disk"})
# Every table and key config.toml may hold, as data: a key outside it is a typo (warned about,
# with the closest known key) rather than a setting silently ignored.
CONFIG_SCHEMA: Mapping[str, Any] = {
    "store": frozenset({"root"}),
    "transfer": frozenset({"connections", "retries", "stall_seconds"}),
    "gc": frozenset({"max_size"}),
    "sources": {name: _SOURCE_KEYS for name in SOURCE_NAMES},
    "load": frozenset({"max_memory"}),
    "remote": frozenset({"url", "endpoint_url", "region", "push_on_pull"}),
    "aliases": _AnyName(),
    "presets": _AnyName(),
    "mirror": frozenset({"tokens", "grants"}),
    "profiles": _EachName(PROFILE_KEYS),
}


@dataclass(frozen=True)
class MirrorGrant:
    """A mirror client's token and the private/gated upstream repos (fnmatch patterns, e.g.
    ``acme/*``) it may see; the token also admits it like one of ``[mirror] tokens``."""

    token: Secret
    repos: tuple[str, ...]

    def covers(self, repo_id: str) -> bool:
        return any(fnmatch.fnmatchcase(repo_id, pattern) for pattern in self.repos)


@dataclass(frozen=True)
class SourceSettings:
    enabled: bool = True
    timeout_seconds: float = 30.0
    verify_ssl: bool = True
    endpoint: str | None = None
    token: Secret | None = None


@dataclass(frozen=True)
class TransferSettings:
    """Knobs of the segmented downloader; defaults chosen from bench/download.py.

    ``connections`` is a ceiling per file: a transfer starts with 2 and opens more only while
    they raise its speed (``transfer/ramp.py``), so 32 costs nothing where 16 already fill the
    line, and doubles what a CDN that caps each connection lets through."""

    connections: int = 32
    retries: int = 6
    stall_seconds: float = 20.0


@dataclass(frozen=True)
class RemoteSettings:
    """A team store on S3-compatible object storage (``[remote]``). No credentials here on
    purpose: boto3 finds them the standard AWS way (environment, ``~/.aws`` files), so
    config.toml and ``config --json`` never hold a key."""

    url: str | None = None  # "s3://bucket/prefix"; None: no remote store
    endpoint_url: str | None = None  # MinIO, Ceph RGW, R2, a test server; None: AWS
    region: str | None = None
    push_on_pull: bool = True  # upload what a pull fetched from the source


@dataclass(frozen=True)
class ProxySettings:
    """Which proxy each URL scheme goes through, from the ``*_proxy`` variables (curl, requests and
    httpx — so huggingface_hub's own API calls — read the same ones). Proxy URLs may carry
    ``user:password``, hence :class:`Secret`."""

    urls: Mapping[str, Secret] = field(default_factory=dict)  # "http" / "https" / "all" -> URL
    no_proxy: str = ""  # NO_PROXY as given: "*" or comma-separated hosts, domains, host:port

    def reveal(self) -> dict[str, str]:
        return {scheme: url.reveal() for scheme, url in self.urls.items()}

    def to_json(self) -> dict[str, Any]:
        """Each proxy with its ``user:password`` (if any) shown as ``***``, and ``no_proxy``."""
        shown = {scheme: mask_userinfo(url.reveal()) for scheme, url in self.urls.items()}
        return {**shown, "no_proxy": self.no_proxy or None}


@dataclass(frozen=True)
class Settings:
    home: Path
    hf_cache: Path
    offline: bool = False
    sources: Mapping[str, SourceSettings] = field(default_factory=dict)
    transfer: TransferSettings = field(default_factory=TransferSettings)
    proxies: ProxySettings = field(default_factory=ProxySettings)
    gc_max_size: int | None = None
    config_file: Path | None = None
    # One line per config.toml key nobody reads (a typo): the CLI prints them on stderr,
    # ``Shelf()`` raises them as Python warnings.
    warnings: tuple[str, ...] = field(default=(), compare=False)
    # [load] max_memory: bytes per device ("*" = every device not named); [aliases] NAME = REF;
    # [presets] NAME = [REF, ...] or "path/to/manifest.toml" (relative to the config file).
    load_max_memory: Mapping[str, int] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    presets: Mapping[str, tuple[str, ...] | Path] = field(default_factory=dict)
    # [mirror] tokens: bearer tokens `serve --mirror` accepts (none: it answers everyone).
    mirror_tokens: tuple[Secret, ...] = ()
    # [[mirror.grants]] token = "...", repos = ["org/*"]: a client token that may also see
    # these private or gated upstream repos (which the mirror reads with its own Hub token).
    mirror_grants: tuple[MirrorGrant, ...] = ()
    # [profiles.NAME] gpu = "24GB", disk = "100GB": the user's own advise targets (bytes;
    # a key left out is None), beside and over the built-in ones.
    profiles: Mapping[str, Mapping[str, int | None]] = field(default_factory=dict)
    remote: RemoteSettings = field(default_factory=RemoteSettings)

    def source(self, name: str) -> SourceSettings:
        return self.sources.get(name, SourceSettings(endpoint=DEFAULT_ENDPOINTS.get(name)))

    def secret_values(self) -> list[str]:
        """Every credential this configuration holds, from any layer (config.toml, environment):
        the sources' tokens and the proxies' passwords, so output can be scrubbed of them."""
        values = [s.token.reveal() for s in self.sources.values() if s.token]
        values += [t.reveal() for t in self.mirror_tokens]
        values += [g.token.reveal() for g in self.mirror_grants]
        for url in self.proxies.urls.values():
            password = proxy_password(url.reveal())
            if password:
                values += [password, unquote(password)]
        return values

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The effective configuration with every token shown as ``"***"``."""
        return {
            "home": str(self.home),
            "hf_cache": str(self.hf_cache),
            "offline": self.offline,
            "config_file": str(self.config_file) if self.config_file else None,
            "transfer": {
                "connections": self.transfer.connections,
                "retries": self.transfer.retries,
                "stall_seconds": self.transfer.stall_seconds,
            },
            "gc": {"max_size": self.gc_max_size},
            "load": {"max_memory": dict(self.load_max_memory)},
            "aliases": dict(self.aliases),
            "presets": {name: str(p) if isinstance(p, Path) else list(p)
                        for name, p in self.presets.items()},
            "profiles": {name: dict(p) for name, p in self.profiles.items()},
            "proxies": self.proxies.to_json(),
            "mirror": {"tokens": [MASK for _ in self.mirror_tokens],
                       "grants": [{"token": MASK, "repos": list(g.repos)}
                                  for g in self.mirror_grants]},
            "remote": {"url": self.remote.url,
                       "endpoint_url": mask_userinfo(self.remote.endpoint_url)
                       if self.remote.endpoint_url else None,
                       "region": self.remote.region, "push_on_pull": self.remote.push_on_pull},
            "sources": {
                name: {
                    "enabled": s.enabled,
                    "timeout_seconds": s.timeout_seconds,
                    "verify_ssl": s.verify_ssl,
                    "endpoint": s.endpoint,
                    "token": MASK if s.token else None,
                }
                for name, s in ((n, self.source(n)) for n in SOURCE_NAMES)
            },
        }


_SIZE_UNITS = {"": 1, "B": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
               "KI": 1024, "MI": 1024**2, "GI": 1024**3, "TI": 1024**4}


def parse_size(text: str | int) -> int:
    """``50GB``, ``1.5GiB``, ``800M``, ``123`` -> bytes. Decimal units, binary with ``i``."""
    if isinstance(text, int):
        return text
    raw = text.strip().upper().replace(" ", "")
    number = raw.rstrip("BKMGTI")
    unit = raw[len(number):].removesuffix("B")
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # also "nan" and "inf", which float() accepts
        raise ConfigError(f"size {text!r}: expected a number with an optional unit, e.g. 50GB")
    if value < 0:
        raise ConfigError(f"size {text!r}: a size cannot be negative")
    if unit not in _SIZE_UNITS:
        raise ConfigError(f"size {text!r}: unknown unit (use B, KB, MB, GB, TB, KiB, MiB, GiB)")
    return int(value * _SIZE_UNITS[unit])


def format_size(n: float) -> str:
    """The inverse of :func:`parse_size` for people: decimal units, as disks and sites show them."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def _read_toml(path: Path, explicit: bool) -> dict[str, Any]:
    """The file's tables; a missing default file is no configuration, but a file the user named
    (``MODELSHELF_CONFIG``) that is not there is an error: its settings would silently vanish."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"MODELSHELF_CONFIG={path}: no such file") from None
        return {}
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def unknown_keys(data: Mapping[str, Any], path: Path) -> tuple[str, ...]:
    """One warning per key of ``data`` that :data:`CONFIG_SCHEMA` does not know, naming the
    file and, when a known key is close, the key that was probably meant."""
    found: list[str] = []

    def check(table: Mapping[str, Any], schema: Any, prefix: str) -> None:
        known = list(schema)
        for key, value in table.items():
            dotted = f"{prefix}{key}"
            if key not in schema:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
                found.append(f"{path}: unknown key '{dotted}' ignored{hint}")
            elif isinstance(schema, Mapping) and isinstance(value, Mapping):
                check(value, schema[key], f"{dotted}.")

    check(data, CONFIG_SCHEMA, "")
    return tuple(found)


def _table(parent: Mapping[str, Any], dotted: str, path: Path) -> Mapping[str, Any]:
    """The table ``dotted`` (``"transfer"``, ``"sources.hf"``) of ``parent``, ``{}`` when absent.
    Every section is read through here, so a section written as a plain value (``transfer = 4``,
    ``[sources] hf = "on"``) is one error naming the file and the key, whichever section it is."""
    value = parent.get(dotted.rsplit(".", 1)[-1], {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: [{dotted}] expected a table, got {value!r}")
    return value


def _typed(value: Any, kind: type, where: str) -> Any:
    if kind is bool and isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _value(table: Mapping[str, Any], key: str, default: bool | int | float, where: str) -> Any:
    """``table[key]``, checked to be of the default's type; the default (the dataclass's own,
    so it is written once) when the key is not set."""
    return _typed(table.get(key, default), type(default), f"{where} {key}")


def _source_from(name: str, table: Mapping[str, Any], env: Mapping[str, str]) -> SourceSettings:
    where = f"config [sources.{name}]"
    token = table.get("token")
    endpoint = table.get("endpoint", DEFAULT_ENDPOINTS.get(name))
    if name == "hf":
        endpoint = env.get("HF_ENDPOINT", endpoint)
        token = env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or token
    elif name == "civitai":
        endpoint = env.get("MODELSHELF_CIVITAI_ENDPOINT", endpoint)
        token = env.get("CIVITAI_API_TOKEN") or token
    default = SourceSettings()
    return SourceSettings(
        enabled=_value(table, "enabled", default.enabled, where),
        timeout_seconds=_value(table, "timeout_seconds", default.timeout_seconds, where),
        verify_ssl=_value(table, "verify_ssl", default.verify_ssl, where),
        endpoint=endpoint.rstrip("/") if isinstance(endpoint, str) else None,
        token=Secret(token) if token else None,
    )


def _remote(table: Mapping[str, Any], env: Mapping[str, str]) -> RemoteSettings:
    """``[remote]``, with ``MODELSHELF_REMOTE`` beating its url and boto3's own
    ``AWS_ENDPOINT_URL`` / ``AWS_REGION`` variables beating the file, as for every AWS tool."""
    where = "config [remote]"
    default = RemoteSettings()
    url = env.get("MODELSHELF_REMOTE") or table.get("url")
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or table.get("endpoint_url")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or table.get("region")
    for key, value in (("url", url), ("endpoint_url", endpoint), ("region", region)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{where} {key}: expected str, got {value!r}")
    if url and not url.startswith("s3://"):
        raise ConfigError(f"{where} url {url!r}: expected s3://bucket/prefix")
    return RemoteSettings(url=url or None, endpoint_url=endpoint or None, region=region or None,
                          push_on_pull=_value(table, "push_on_pull", default.push_on_pull, where))


def default_config_file(env: Mapping[str, str]) -> Path:
    if env.get("MODELSHELF_CONFIG"):
        return Path(env["MODELSHELF_CONFIG"]).expanduser()
    return Path(platformdirs.user_config_dir("modelshelf")) / "config.toml"


def _hf_cache(env: Mapping[str, str]) -> Path:
    # The same precedence huggingface_hub applies, read from *our* env mapping.
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    hf_home = env.get("HF_HOME") or os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(hf_home).expanduser() / "hub"


def _proxies(env: Mapping[str, str]) -> ProxySettings:
    """The rules of ``urllib.request.getproxies_environment``, applied to *our* env mapping (it
    reads ``os.environ`` itself): names match in any case, then lowercase ones are read again so
    they win, and a lowercase variable set empty removes the setting."""
    found: dict[str, str] = {}
    for name, value in env.items():
        if value and name.lower().endswith("_proxy"):
            found[name.lower()[:-6]] = value
    if "REQUEST_METHOD" in env:  # running as a CGI script: HTTP_PROXY is a request header (httpoxy)
        found.pop("http", None)
    for name, value in env.items():
        if name.endswith("_proxy"):
            if value:
                found[name.lower()[:-6]] = value
            else:
                found.pop(name.lower()[:-6], None)
    return ProxySettings({s: Secret(found[s]) for s in PROXY_SCHEMES if s in found},
                         found.get("no", ""))


def _max_memory(value: Any) -> dict[str, int]:
    """``max_memory = "20GB"`` (every device) or ``max_memory = {cpu = "32GB", "cuda:0" = "20GB"}``."""
    where = "config [load] max_memory"
    if value is None:
        return {}
    sizes = value if isinstance(value, dict) else {"*": value}
    return {str(device): _size(size, f"{where} {device}") for device, size in sizes.items()}


def _size(value: Any, where: str) -> int:
    """A size setting (``"20GB"`` or a byte count): any other TOML type is the user's error."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ConfigError(f"{where}: expected a size such as \"20GB\", got {value!r}")
    try:
        return parse_size(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _aliases(table: Mapping[str, Any]) -> dict[str, str]:
    if not all(isinstance(v, str) for v in table.values()):
        raise ConfigError("config [aliases]: expected NAME = \"REFERENCE\" lines")
    return {str(k).lower(): v for k, v in table.items()}


def _presets(table: Mapping[str, Any], config_file: Path) -> dict[str, tuple[str, ...] | Path]:
    """Manifests in ``presets/`` beside config.toml (``presets/NAME.toml``), then the
    ``[presets]`` table, which replaces a file's preset of the same name."""
    presets: dict[str, tuple[str, ...] | Path] = {
        path.stem: path for path in sorted((config_file.parent / "presets").glob("*.toml"))}
    for name, value in table.items():
        if isinstance(value, str):
            presets[str(name)] = config_file.parent / Path(value).expanduser()
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            presets[str(name)] = tuple(value)
        else:
            raise ConfigError(f"config [presets] {name}: expected a list of references "
                              "or a manifest file name")
    return presets


def _mirror_tokens(value: Any) -> tuple[Secret, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError("config [mirror] tokens: expected a list of non-empty strings")
    return tuple(Secret(v.strip()) for v in value)


def _mirror_grants(value: Any) -> tuple[MirrorGrant, ...]:
    def valid(grant: Any) -> bool:
        return (isinstance(grant, dict) and set(grant) == {"token", "repos"}
                and isinstance(grant["token"], str) and bool(grant["token"].strip())
                and isinstance(grant["repos"], list) and bool(grant["repos"])
                and all(isinstance(r, str) and r.count("/") == 1 for r in grant["repos"]))

    if not isinstance(value, list) or not all(valid(g) for g in value):
        raise ConfigError("config [[mirror.grants]]: expected tables of token = \"...\" and "
                          "repos = [\"org/repo\" or \"org/*\", ...]")
    return tuple(MirrorGrant(Secret(g["token"].strip()), tuple(g["repos"])) for g in value)


def _profiles(table: Any) -> dict[str, dict[str, int | None]]:
    """``[profiles.NAME]`` tables of sizes; a size that is no size names the profile and key."""
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise ConfigError("config [profiles]: expected [profiles.NAME] tables with gpu/disk sizes")
    profiles: dict[str, dict[str, int | None]] = {}
    for name, entry in table.items():
        sizes: dict[str, int | None] = {}
        for key in sorted(PROFILE_KEYS):
            value = entry.get(key)
            sizes[key] = None if value is None else _size(value, f"config [profiles.{name}] {key}")
        profiles[str(name).lower()] = sizes
    return profiles


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    connections: int | None = None,
    offline: bool | None = None,
) -> Settings:
    """Build the effective settings; keyword arguments are the command-line flags."""
    env = os.environ if env is None else env
    config_file = default_config_file(env)
    data = _read_toml(config_file, explicit=bool(env.get("MODELSHELF_CONFIG")))
    store_table = _table(data, "store", config_file)
    transfer_table = _table(data, "transfer", config_file)
    gc_table = _table(data, "gc", config_file)
    sources_table = _table(data, "sources", config_file)

    store_root = home or env.get("MODELSHELF_HOME") or _typed(
        store_table.get("root", ""), str, f"{config_file}: [store] root")
    if not store_root:
        store_root = Path(platformdirs.user_data_dir("modelshelf"))
    default = TransferSettings()
    transfer = TransferSettings(
        connections=_value(transfer_table, "connections", default.connections, "config [transfer]"),
        retries=_value(transfer_table, "retries", default.retries, "config [transfer]"),
        stall_seconds=_value(transfer_table, "stall_seconds", default.stall_seconds,
                             "config [transfer]"),
    )
    if connections is not None:
        transfer = replace(transfer, connections=connections)
    if not 1 <= transfer.connections <= 64:
        raise ConfigError(f"connections {transfer.connections}: must be between 1 and 64")
    max_size = gc_table.get("max_size")
    is_offline = any(env.get(k, "").strip().lower() in TRUE_WORDS
                     for k in ("MODELSHELF_OFFLINE", "HF_HUB_OFFLINE"))
    return Settings(
        home=Path(store_root).expanduser().absolute(),
        hf_cache=_hf_cache(env).absolute(),
        offline=is_offline if offline is None else offline,
        sources={n: _source_from(n, _table(sources_table, f"sources.{n}", config_file), env)
                 for n in SOURCE_NAMES},
        transfer=transfer,
        proxies=_proxies(env),
        gc_max_size=None if max_size is None else _size(max_size,
                                                        f"{config_file}: [gc] max_size"),
        config_file=config_file if config_file.exists() else None,
        warnings=unknown_keys(data, config_file),
        load_max_memory=_max_memory(_table(data, "load", config_file).get("max_memory")),
        aliases=_aliases(_table(data, "aliases", config_file)),
        presets=_presets(_table(data, "presets", config_file), config_file),
        mirror_tokens=_mirror_tokens(_table(data, "mirror", config_file).get("tokens", [])),
        mirror_grants=_mirror_grants(_table(data, "mirror", config_file).get("grants", [])),
        profiles=_profiles(data.get("profiles", {})),
        remote=_remote(_table(data, "remote", config_file), env),
    )
