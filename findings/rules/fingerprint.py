"""Finding fingerprints, byte for byte the ones the reference Go SDK computes.

Pure Python: imported by the server and by the Django-free agent program.

Read from the reference SDK's source (docs/wire-protocol.md): its fingerprint package
and tests, and its semgrep, gitleaks, trivy, nuclei and SARIF readers. Every formula is
``sha256_hex(":".join(parts))`` with the parts:

=========  ================================================================
sast       "sast", path, rule_id, start_line, end_line
sca        "sca", package, version, vuln_id
secret     "secret", path, rule_id, start_line, sha256_hex(secret)[:16] or ""
misconfig  "misconfig", resource_type, resource_name, rule_id, path
dast       "dast", rule_id, host*, url_path*, parameter
container  "container", image, package, version, vuln_id
web3       "web3", address*, chain_id, swc_id, function_signature
generic    "generic", rule_id, path, start_line, end_line, message
=========  ================================================================

Strings go through ``normalize_text`` (trim, lower-case, ``\\`` to ``/``) except the
starred ones, which have their own normaliser; the secret is hashed raw. Integers print
in decimal (Go ``%d``); a missing string is ``""`` and a missing integer ``0``.

Go details kept on purpose: trimming uses Go's ``unicode.IsSpace`` set, lower-casing is
per character (Go has no final-sigma rule and maps U+0130 to "i"), the 40-character
address test counts bytes, and invalid UTF-16 surrogates hash as U+FFFD like Go's JSON.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

MAX_FINGERPRINT_LENGTH = 512


class FingerprintType(StrEnum):
    SAST = "sast"
    SCA = "sca"
    SECRET = "secret"
    MISCONFIG = "misconfig"
    DAST = "dast"
    CONTAINER = "container"
    WEB3 = "web3"
    GENERIC = "generic"


@dataclass(frozen=True, slots=True)
class FingerprintInput:
    rule_id: str | None = None
    path: str | None = None
    start_line: int = 0
    end_line: int = 0
    message: str | None = None
    package: str | None = None
    version: str | None = None
    vuln_id: str | None = None
    secret: str | None = None
    resource_type: str | None = None
    resource_name: str | None = None
    host: str | None = None
    url_path: str | None = None
    parameter: str | None = None
    image: str | None = None
    address: str | None = None
    chain_id: int = 0
    swc_id: str | None = None
    function_signature: str | None = None


# Go's unicode.IsSpace; Python's str.strip() would also eat U+001C..U+001F.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _s(value: object) -> str:
    return "" if value is None else str(value)


def _i(value: int | float | str | None) -> int:
    return 0 if value is None else int(value)


def _go_lower(text: str) -> str:
    if text.isascii():
        return text.lower()
    return "".join("i" if ch == "\u0130" else ch.lower() for ch in text)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Only a lone surrogate (JSON "\\ud800") gets here; Go decodes it as one U+FFFD.
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text).encode()


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of the UTF-8 bytes of ``text`` (the SDK's ``Hash``)."""
    return hashlib.sha256(_utf8(text)).hexdigest()


def normalize_text(value: str | None) -> str:
    """Trim, lower-case and turn Windows separators into ``/``."""
    return _go_lower(_s(value).strip(_GO_SPACE)).replace("\\", "/")


def normalize_host(value: str | None) -> str:
    """Trim, lower-case, drop an http(s) scheme, one trailing ``/`` and a :443 or :80 port."""
    host = _go_lower(_s(value).strip(_GO_SPACE))
    host = host.removeprefix("https://").removeprefix("http://").removesuffix("/")
    return host.removesuffix(":443").removesuffix(":80")


def normalize_url_path(value: str | None) -> str:
    """Trim, lower-case, drop the query and fragment, force a leading ``/``, drop a trailing one."""
    path = _go_lower(_s(value).strip(_GO_SPACE))
    path = path.split("?", 1)[0].split("#", 1)[0]
    if path and not path.startswith("/"):
        path = "/" + path
    return path.removesuffix("/") if len(path) > 1 else path


def normalize_address(value: str | None) -> str:
    """Trim, lower-case and prefix ``0x`` on a bare 40-character (EVM) address."""
    address = _go_lower(_s(value).strip(_GO_SPACE))
    if len(_utf8(address)) == 40 and not address.startswith("0x"):
        address = "0x" + address
    return address


def _digest(*parts: object) -> str:
    return sha256_hex(":".join(_s(part) for part in parts))


def sast_fingerprint(
    *, path: str | None = None, rule_id: str | None = None, start_line: int = 0, end_line: int = 0
) -> str:
    n = normalize_text
    return _digest("sast", n(path), n(rule_id), _i(start_line), _i(end_line))


def sca_fingerprint(
    *, package: str | None = None, version: str | None = None, vuln_id: str | None = None
) -> str:
    n = normalize_text
    return _digest("sca", n(package), n(version), n(vuln_id))


def secret_fingerprint(
    *,
    path: str | None = None,
    rule_id: str | None = None,
    start_line: int = 0,
    secret: str | None = None,
) -> str:
    # The secret itself is hashed untrimmed and case-sensitive: it is data, not a name.
    secret_hash = sha256_hex(secret)[:16] if secret else ""
    n = normalize_text
    return _digest("secret", n(path), n(rule_id), _i(start_line), secret_hash)


def misconfig_fingerprint(
    *,
    resource_type: str | None = None,
    resource_name: str | None = None,
    rule_id: str | None = None,
    path: str | None = None,
) -> str:
    n = normalize_text
    return _digest("misconfig", n(resource_type), n(resource_name), n(rule_id), n(path))


def dast_fingerprint(
    *,
    rule_id: str | None = None,
    host: str | None = None,
    url_path: str | None = None,
    parameter: str | None = None,
) -> str:
    return _digest(
        "dast",
        normalize_text(rule_id),
        normalize_host(host),
        normalize_url_path(url_path),
        normalize_text(parameter),
    )


def container_fingerprint(
    *,
    image: str | None = None,
    package: str | None = None,
    version: str | None = None,
    vuln_id: str | None = None,
) -> str:
    n = normalize_text
    return _digest("container", n(image), n(package), n(version), n(vuln_id))


def web3_fingerprint(
    *,
    address: str | None = None,
    chain_id: int = 0,
    swc_id: str | None = None,
    function_signature: str | None = None,
) -> str:
    return _digest(
        "web3",
        normalize_address(address),
        _i(chain_id),
        normalize_text(swc_id),
        normalize_text(function_signature),
    )


def generic_fingerprint(
    *,
    rule_id: str | None = None,
    path: str | None = None,
    start_line: int = 0,
    end_line: int = 0,
    message: str | None = None,
) -> str:
    n = normalize_text
    return _digest("generic", n(rule_id), n(path), _i(start_line), _i(end_line), n(message))


def seed_fingerprint(
    rule_id: str | None, file_path: str | None, start_line: int, end_line: int, message: str | None
) -> str:
    """The product's first rule: sha256(rule_id + file_path + start_line + end_line + message).

    The SDK's generic formula hashes exactly these five inputs in this order (with a
    "generic" prefix, ``:`` separators and normalisation), so that rule *is* the
    generic fingerprint; a second, unseparated variant would only split duplicates.
    """
    return generic_fingerprint(
        rule_id=rule_id, path=file_path, start_line=start_line, end_line=end_line, message=message
    )


def detect_fingerprint_type(inp: FingerprintInput) -> FingerprintType:
    """The SDK's ``DetectType``: the first kind whose identifying fields are present."""
    if inp.address or inp.swc_id:
        return FingerprintType.WEB3
    if inp.image and inp.package:
        return FingerprintType.CONTAINER
    if inp.host:
        return FingerprintType.DAST
    if inp.package and inp.vuln_id:
        return FingerprintType.SCA
    if inp.secret:
        return FingerprintType.SECRET
    if inp.resource_type or inp.resource_name:
        return FingerprintType.MISCONFIG
    if inp.path and inp.rule_id and _i(inp.start_line) > 0:
        return FingerprintType.SAST
    return FingerprintType.GENERIC


_FORMULAS: dict[FingerprintType, tuple[Callable[..., str], str]] = {
    FingerprintType.SAST: (sast_fingerprint, "path rule_id start_line end_line"),
    FingerprintType.SCA: (sca_fingerprint, "package version vuln_id"),
    FingerprintType.SECRET: (secret_fingerprint, "path rule_id start_line secret"),
    FingerprintType.MISCONFIG: (misconfig_fingerprint, "resource_type resource_name rule_id path"),
    FingerprintType.DAST: (dast_fingerprint, "rule_id host url_path parameter"),
    FingerprintType.CONTAINER: (container_fingerprint, "image package version vuln_id"),
    FingerprintType.WEB3: (web3_fingerprint, "address chain_id swc_id function_signature"),
    FingerprintType.GENERIC: (generic_fingerprint, "rule_id path start_line end_line message"),
}


def compute_fingerprint(inp: FingerprintInput, type: FingerprintType | None = None) -> str:
    """Fingerprint ``inp`` with the formula for ``type``, detected from the fields if omitted."""
    kind = FingerprintType(type) if type else detect_fingerprint_type(inp)
    formula, fields = _FORMULAS[kind]
    return formula(**{field: getattr(inp, field) for field in fields.split()})


# ---- parser variants -------------------------------------------------------------------


_SEMGREP_TOOL_FINGERPRINT = re.compile(r"[0-9a-fA-F]{16,}(?:_\d+)?")


def semgrep_fingerprint(
    *,
    tool_fingerprint: str | None = None,
    path: str | None = None,
    rule_id: str | None = None,
    start_line: int = 0,
) -> str:
    """Semgrep's own ``extra.fingerprint`` when it looks like a hash, else sast with end 0.

    Semgrep OSS answers the literal "requires login"; trusting it would merge every
    finding into one, so (like the later SDK) only a 16+ character hex value is kept,
    with the `_<n>` suffix semgrep adds to tell identical matches in one file apart.
    """
    if tool_fingerprint and _SEMGREP_TOOL_FINGERPRINT.fullmatch(tool_fingerprint):
        return tool_fingerprint
    return sast_fingerprint(path=path, rule_id=rule_id, start_line=start_line, end_line=0)


def gitleaks_fingerprint(
    *,
    tool_fingerprint: str | None = None,
    path: str | None = None,
    rule_id: str | None = None,
    start_line: int = 0,
    secret: str | None = None,
) -> str:
    """Gitleaks' own ``Fingerprint`` when present, else the secret formula."""
    if tool_fingerprint:
        return tool_fingerprint
    return secret_fingerprint(path=path, rule_id=rule_id, start_line=start_line, secret=secret)


def _trivy(*parts: object) -> str:
    # The Trivy parser joins the raw values (no normalisation) and keeps 16 bytes.
    return _digest(*parts)[:32]


def trivy_vulnerability_fingerprint(
    vuln_id: str | None, pkg: str | None, installed_version: str | None, target: str | None
) -> str:
    return _trivy(vuln_id, pkg, installed_version, target)


def trivy_misconfiguration_fingerprint(
    misconfig_id: str | None, target: str | None, type: str | None, message: str | None
) -> str:
    return _trivy(misconfig_id, target, type, message)


def trivy_secret_fingerprint(
    rule_id: str | None, target: str | None, start_line: int, match: str | None
) -> str:
    return _trivy(rule_id, target, _i(start_line), match)


def nuclei_fingerprint(
    template: str | None, host: str | None, matched: str | None, matcher: str | None
) -> str:
    """sha256 of ``template|host|matched|matcher``, raw values (the only ``|``-joined one)."""
    return sha256_hex("|".join(_s(part) for part in (template, host, matched, matcher)))


def sarif_fingerprint(fingerprints: Mapping[str, object] | None) -> str | None:
    """The first non-empty ``fingerprints`` value, hashed when over 64 bytes.

    Go ranges over a map in random order, so with several keys the SDK picks any of them;
    we take document order, which is stable for one tool across runs.
    """
    if not fingerprints:
        return None
    for value in fingerprints.values():
        if isinstance(value, str) and value:
            return sha256_hex(value) if len(_utf8(value)) > 64 else value
    return None


def is_well_formed_fingerprint(value: object) -> bool:
    """A non-empty string of at most 512 characters with no whitespace or control characters."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_FINGERPRINT_LENGTH:
        return False
    return all(ch.isprintable() and not ch.isspace() for ch in value)
