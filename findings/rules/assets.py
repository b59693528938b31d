"""Asset identifiers: one canonical spelling per asset, its type and its provider.

Pure Python, shared with the Django-free agent program. Without a type, ``normalize_asset``
tries: cloud id (AWS ARN or 12-digit account, GCP ``projects/<id>``, Azure
``/subscriptions/<guid>``), IP/CIDR, git repository, http(s) URL (website), container
image, domain, else ``other`` (``host:port`` included). Canonical spellings:

* repository ``host/owner/repo``: no scheme, credentials, port, ``.git``, browse path;
  GitLab keeps nested groups, Azure DevOps is ``dev.azure.com/org/project/_git/repo``;
  code hosts are case-folded whole, other git hosts only in the host name.
* container ``docker.io/library/nginx:1.25`` (no tag and no digest means ``:latest``).
* website ``scheme://host[:port]/path?query``; ip/network as ``ipaddress`` prints them;
  domain lower-case and IDNA without the final dot.

Only a caller-given type makes a local path (``/src/app``, ``.``) a repository and a bare
GUID an Azure subscription (``cloud_account``). ARNs are ``other`` unless an account root
or typed by the caller. An unknown ``asset_type`` raises ``InvalidAssetIdentifier``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

MAX_IDENTIFIER_LENGTH = 1024


class AssetType(StrEnum):
    DOMAIN = "domain"
    SUBDOMAIN = "subdomain"
    IP_ADDRESS = "ip_address"
    CERTIFICATE = "certificate"
    WEBSITE = "website"
    WEB_APPLICATION = "web_application"
    API = "api"
    MOBILE_APP = "mobile_app"
    SERVICE = "service"
    REPOSITORY = "repository"
    CLOUD_ACCOUNT = "cloud_account"
    COMPUTE = "compute"
    STORAGE = "storage"
    DATABASE = "database"
    SERVERLESS = "serverless"
    CONTAINER_REGISTRY = "container_registry"
    HOST = "host"
    SERVER = "server"
    CONTAINER = "container"
    KUBERNETES = "kubernetes"
    KUBERNETES_CLUSTER = "kubernetes_cluster"
    KUBERNETES_NAMESPACE = "kubernetes_namespace"
    NETWORK = "network"
    VPC = "vpc"
    SUBNET = "subnet"
    LOAD_BALANCER = "load_balancer"
    FIREWALL = "firewall"
    IAM_USER = "iam_user"
    IAM_ROLE = "iam_role"
    SERVICE_ACCOUNT = "service_account"
    HTTP_SERVICE = "http_service"
    OPEN_PORT = "open_port"
    DISCOVERED_URL = "discovered_url"
    SMART_CONTRACT = "smart_contract"
    WALLET = "wallet"
    NFT_COLLECTION = "nft_collection"
    DEFI_PROTOCOL = "defi_protocol"
    TOKEN = "token"
    BLOCKCHAIN = "blockchain"
    OTHER = "other"


_T = AssetType


# Legacy flat-format target types ("web", "ip": consolidation RFC) and common spellings.
_LEGACY_ALIASES: dict[AssetType, str] = {
    _T.WEB_APPLICATION: "web webapp web_app",
    _T.IP_ADDRESS: "ip ipv4 ipv6",
    _T.REPOSITORY: "repo git",
    _T.CONTAINER: "image container_image docker_image",
    _T.CLOUD_ACCOUNT: "cloud aws_account gcp_project azure_subscription",
    _T.WEBSITE: "url",
    _T.HOST: "hostname",
    _T.NETWORK: "cidr",
    _T.KUBERNETES: "k8s",
    _T.SMART_CONTRACT: "contract",
}
LEGACY_ASSET_TYPES: dict[str, AssetType] = {
    alias: kind for kind, aliases in _LEGACY_ALIASES.items() for alias in aliases.split()
}


def parse_asset_type(value: AssetType | str | None) -> AssetType | None:
    """A RIS asset type or legacy alias (any case, ``-`` or space for ``_``), else ``None``."""
    if not isinstance(value, str):
        return None
    key = re.sub(r"[\s-]+", "_", value.strip().lower())
    try:
        return AssetType(key)
    except ValueError:
        return LEGACY_ASSET_TYPES.get(key)


class Provider(StrEnum):
    """Who hosts the asset: code hosts, clouds, and image registries without a cloud."""

    GITHUB = "github"  # github.com, GitHub Enterprise (github.*), ghcr.io
    GITLAB = "gitlab"  # gitlab.com, self-hosted gitlab.*, registry.gitlab.com
    BITBUCKET = "bitbucket"  # bitbucket.org and self-hosted bitbucket.*
    AZURE_DEVOPS = "azure_devops"  # dev.azure.com, *.visualstudio.com
    AWS = "aws"  # ARNs, 12-digit accounts, ECR
    GCP = "gcp"  # projects/<id>, *.googleapis.com names, gcr.io, *-docker.pkg.dev
    AZURE = "azure"  # /subscriptions/<guid>, *.azurecr.io, mcr.microsoft.com
    DOCKER_HUB = "docker_hub"
    QUAY = "quay"
    OTHER_REGISTRY = "other_registry"  # any other container registry


@dataclass(frozen=True, slots=True)
class NormalizedAsset:
    type: AssetType
    identifier: str
    name: str
    provider: Provider | None


class InvalidAssetIdentifier(ValueError):
    pass


_Parsed = tuple[AssetType, str, str, Provider | None]  # type, identifier, name, provider
_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


_ARN = re.compile(r"arn:(aws(?:-[a-z]+)*):([a-z0-9-]+):([a-z0-9-]*):([^:]*):(.+)", re.I)
_GCP_PROJECT = re.compile(
    r"(?://cloudresourcemanager\.googleapis\.com/|gcp:(?://)?)?(?:projects/)?"
    r"(?P<id>[a-z0-9][a-z0-9.:-]{0,62})/?"
)


def _cloud(raw: str, given: AssetType | None) -> _Parsed | None:
    lower = raw.lower()
    if lower.startswith("arn:"):
        if not (arn := _ARN.fullmatch(raw)):
            raise InvalidAssetIdentifier(f"malformed ARN: {raw!r}")
        # The resource part is case-sensitive (bucket keys, IAM paths); the rest is not.
        ident = ":".join(["arn", *(part.lower() for part in arn.groups("")[:4]), arn[5]])
        root = arn[2].lower() == "iam" and arn[5] == "root"
        return _T.CLOUD_ACCOUNT if root else _T.OTHER, ident, arn[5], Provider.AWS
    if m := re.fullmatch(r"(?:aws:(?://)?)?(\d{12})", lower):
        return _T.CLOUD_ACCOUNT, m[1], m[1], Provider.AWS
    gcp_hint = lower.startswith(("gcp:", "projects/", "//cloudresourcemanager.googleapis.com/"))
    # Trailing slashes name nothing: match without them, or "projects//" would become an
    # identifier ("projects") that these branches no longer recognise when given again.
    gcp = lower.rstrip("/")
    if gcp_hint and (m := _GCP_PROJECT.fullmatch(gcp)):
        return _T.CLOUD_ACCOUNT, f"projects/{m['id']}", m["id"], Provider.GCP
    if re.match(r"//[a-z0-9-]+\.googleapis\.com/", gcp) or gcp.startswith("projects/"):
        return _T.OTHER, raw.rstrip("/"), raw.rstrip("/").rsplit("/", 1)[-1], Provider.GCP
    sub = re.fullmatch(rf"(?:azure:|/subscriptions/)({_GUID})((?:/[^/]+)*)/?", lower)
    if sub is None and given is _T.CLOUD_ACCOUNT:
        sub = re.fullmatch(rf"({_GUID})()", lower)
    if sub:
        # ARM ids are case-insensitive, so the lower-case spelling is canonical.
        ident = f"/subscriptions/{sub[1]}{sub[2]}"
        kind = _T.OTHER if sub[2] else _T.CLOUD_ACCOUNT
        return kind, ident, ident.rsplit("/", 1)[-1], Provider.AZURE
    return None


def _code_host(host: str) -> Provider | None:
    """The code host behind ``host``; GitHub Enterprise and self-hosted GitLab included."""
    name = host.removeprefix("www.").split(".")[0]
    if name in ("github", "gitlab", "bitbucket") and "." in host:
        return Provider(name)
    if re.fullmatch(r"(ssh\.)?dev\.azure\.com|.+\.visualstudio\.com", host):
        return Provider.AZURE_DEVOPS
    return None


def _repo_path(host: str, segs: list[str], provider: Provider | None) -> tuple[str, str] | None:
    """(identifier, name) of the repository at ``segs`` on ``host``, or None if not a repo."""
    if provider is Provider.AZURE_DEVOPS:
        if host.endswith("visualstudio.com") and host != "vs-ssh.visualstudio.com":
            org = host.split(".")[0]
            segs = [org, *[s for s in segs if s.lower() != "defaultcollection"]]
        if segs and segs[0].lower() == "v3":  # ssh: v3/org/project/repo
            segs = [*segs[1:3], "_git", *segs[3:4]]
        if len(segs) >= 3 and segs[1] == "_git":  # dev.azure.com/org/_git/repo: project == repo
            segs = [segs[0], segs[2], "_git", segs[2]]
        if len(segs) < 4 or segs[2] != "_git":
            return None
        org, project, repo = segs[0], segs[1], segs[3].removesuffix(".git")
        return f"dev.azure.com/{org}/{project}/_git/{repo}", f"{org}/{project}/{repo}"
    if provider is Provider.GITLAB and "-" in segs:
        segs = segs[: segs.index("-")]
    elif provider in (Provider.GITHUB, Provider.BITBUCKET):
        segs = segs[:2]  # the rest is a browse path: /tree/main/src, /src/main
    if len(segs) < 2:
        return None
    path = "/".join(segs).removesuffix(".git")
    return f"{host}/{path}", path


def _repository(raw: str, *, forced: bool) -> _Parsed | None:
    scp = re.fullmatch(r"([^@/\s:]+)@([^:/\s]+):(?!//)/?(.+)", raw)
    if scp and ("." in scp[2] or scp[3].endswith(".git")):
        host, path, gitish = scp[2], scp[3], True
    elif "://" in raw:
        parts = urlsplit(raw)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https", "ssh", "git", "git+ssh", "git+https", "git+http"):
            return None
        host, path = (parts.hostname or ""), parts.path
        gitish = scheme not in ("http", "https") or path.rstrip("/").endswith(".git")
    elif re.match(r"[a-z0-9-]+(\.[a-z0-9-]+)+/", raw, re.I):
        host, _, path = raw.partition("/")  # bare "host/owner/repo"
        gitish = False
    else:
        return None
    # A web page on an unknown host is a website unless it ends in .git or the caller knows.
    if not (gitish or forced or _code_host(host.lower())):
        return None
    provider = _code_host(host := _idna(host))
    host = host.removeprefix("www.") if provider else host
    found = _repo_path(host, [s for s in path.split("/") if s], provider) if host else None
    if found is None:
        if forced:
            raise InvalidAssetIdentifier(f"not a repository URL: {raw!r}")
        return None
    ident, name = found
    if provider:  # every code host we recognise treats owner and repo names case-insensitively
        ident, name = ident.lower(), name.lower()
    return _T.REPOSITORY, ident, name, provider


_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"\w[\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,}")
_DOCKER_HUB_ALIASES = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}


_REGISTRIES: dict[str, Provider] = {
    r"docker\.io": Provider.DOCKER_HUB,
    r"ghcr\.io|docker\.pkg\.github\.com": Provider.GITHUB,
    r"quay\.io": Provider.QUAY,
    r"(.+\.)?gcr\.io|.+-docker\.pkg\.dev": Provider.GCP,
    r"public\.ecr\.aws|\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?": Provider.AWS,
    r".+\.azurecr\.io|mcr\.microsoft\.com": Provider.AZURE,
    r"registry\.gitlab\.com": Provider.GITLAB,
}


def _registry_provider(domain: str) -> Provider:
    host = domain.split(":")[0]
    host = "docker.io" if host in _DOCKER_HUB_ALIASES else host
    found = (p for rx, p in _REGISTRIES.items() if re.fullmatch(rx, host))
    return next(found, Provider.OTHER_REGISTRY)


def _image(raw: str, *, forced: bool) -> _Parsed | None:
    ref, _, digest = raw.partition("@")
    if digest and not _DIGEST.fullmatch(digest := digest.lower()):
        return None
    tag = ""
    if ref.rfind(":") > ref.rfind("/"):
        ref, tag = ref.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            return None
    segs = ref.lower().split("/")
    domain = ""
    if len(segs) > 1 and ("." in segs[0] or ":" in segs[0] or segs[0] == "localhost"):
        domain, segs = segs[0], segs[1:]
    if not all(_COMPONENT.fullmatch(s) for s in segs):
        return None
    provider = _registry_provider(domain or "docker.io")
    known_registry = bool(domain) and provider is not Provider.OTHER_REGISTRY
    domain = "docker.io" if not domain or domain in _DOCKER_HUB_ALIASES else domain
    if not (forced or tag or digest or known_registry):
        return None  # "nginx" or "org/app" alone is not evidently an image
    host_and_port = len(segs) == 1 and tag.isdigit() and ("." in segs[0] or segs[0] == "localhost")
    if host_and_port and not forced:
        return None  # "example.com:8080" is an endpoint, not image "example.com" tag 8080
    if domain == "docker.io" and len(segs) == 1:
        segs = ["library", *segs]
    path = "/".join(segs)
    suffix = f":{tag or 'latest'}" if tag or not digest else ""
    suffix += f"@{digest}" if digest else ""
    familiar = path.removeprefix("library/") if domain == "docker.io" else f"{domain}/{path}"
    return _T.CONTAINER, f"{domain}/{path}{suffix}", familiar + suffix, provider


_DOMAIN = re.compile(
    r"(?=.{1,253}$)(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?"
)


def _idna(host: str) -> str:
    host = host.lower().rstrip(".")
    try:
        return host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid international name; the domain check will say so
        return host


def _domain(raw: str) -> str | None:
    host = _idna((urlsplit(raw).hostname or "") if "://" in raw else raw)
    return host if _DOMAIN.fullmatch(host) else None


def _ip(raw: str) -> _Parsed | None:
    try:
        if "/" in raw:
            net = str(ipaddress.ip_network(raw, strict=False))
            return _T.NETWORK, net, net, None
        addr = str(ipaddress.ip_address(raw.removeprefix("[").removesuffix("]")))
        return _T.IP_ADDRESS, addr, addr, None
    except ValueError:
        return None


def _url(raw: str) -> _Parsed | None:
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    port, host = parts.port, _idna(parts.hostname)
    netloc = f"[{host}]" if ":" in host else host
    if port and port != {"http": 80, "https": 443}[scheme]:
        netloc += f":{port}"
    path = "" if parts.path == "/" else parts.path
    ident = f"{scheme}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")
    return _T.WEBSITE, ident, host, _code_host(host)


def _infer(raw: str) -> _Parsed:
    found = _cloud(raw, None) or _ip(raw) or _repository(raw, forced=False)
    if found := found or _url(raw) or _image(raw, forced=False):
        return found
    if "://" not in raw and (domain := _domain(raw)):
        return _T.DOMAIN, domain, domain, None
    # Whatever the scheme, credentials in a URL must not be stored.
    other = re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", raw, flags=re.I)
    return _T.OTHER, other, other, None


def _as_given(raw: str, given: AssetType) -> _Parsed:
    if given is _T.REPOSITORY:
        if found := _repository(raw := raw.replace("\\", "/"), forced=True):
            return found
        path = raw.rstrip("/ ") or "/"  # a local checkout
        return given, path, path.rsplit("/", 1)[-1] or path, None
    if given is _T.CONTAINER:
        return _image(raw, forced=True) or (given, raw, raw, None)
    if given is _T.CONTAINER_REGISTRY:
        ident = re.sub(r"^[a-z]+://", "", raw.lower()).rstrip("/ ")
        return given, ident, ident, _registry_provider(ident.split("/")[0])
    if given in (_T.DOMAIN, _T.SUBDOMAIN, _T.IP_ADDRESS):
        ip = _ip(raw)
        address = ip[1] if ip and ip[0] is _T.IP_ADDRESS else None
        value = address if given is _T.IP_ADDRESS else _domain(raw)
        if not value:
            raise InvalidAssetIdentifier(f"not a valid {given.value}: {raw!r}")
        return given, value, value, None
    found = _cloud(raw, given) or _ip(raw) or _url(raw)
    # As in _infer, a URL of another scheme stays whole: reducing it to its host here
    # would make the identifier inferred for it normalise to another one given its type.
    if found is None and "://" not in raw and (domain := _domain(raw)):
        found = (given, domain, domain, None)
    _, ident, name, provider = found or _infer(raw)
    return given, ident, name, provider


def normalize_asset(
    identifier: str, asset_type: AssetType | str | None = None, name: str | None = None
) -> NormalizedAsset:
    """Canonicalise ``identifier``; infer its type when ``asset_type`` is not given."""
    raw = identifier.strip() if isinstance(identifier, str) else ""
    if not raw or not raw.isprintable():
        raise InvalidAssetIdentifier(f"asset identifier is empty or not printable: {raw!r}")
    given = parse_asset_type(asset_type) if asset_type else None
    if asset_type and given is None:
        raise InvalidAssetIdentifier(f"unknown asset type: {asset_type!r}")
    try:
        kind, ident, default_name, provider = _as_given(raw, given) if given else _infer(raw)
    except ValueError as exc:  # also urlsplit's, e.g. for "http://[::1" or port 99999
        raise InvalidAssetIdentifier(str(exc)) from exc
    if len(ident) > MAX_IDENTIFIER_LENGTH:
        raise InvalidAssetIdentifier(f"asset identifier longer than {MAX_IDENTIFIER_LENGTH}")
    label = name.strip() if isinstance(name, str) and name.strip() else default_name
    return NormalizedAsset(type=kind, identifier=ident, name=label, provider=provider)


def detect_provider(identifier: str) -> Provider | None:
    """The provider ``normalize_asset`` would infer, or ``None`` (also for invalid input)."""
    try:
        return normalize_asset(identifier).provider
    except InvalidAssetIdentifier:
        return None
