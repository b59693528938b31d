"""Properties of the Django-free rules: fingerprints, severities, assets, tool categories.

The example tests in tests/findings/rules pin exact values; these state what must hold
for every input, so that a rule change which breaks deduplication (a fingerprint that
moves, an identifier that normalises twice to different values) is caught whatever
the data.
"""

from __future__ import annotations

import ipaddress
import re
import string

from hypothesis import assume, given
from hypothesis import strategies as st

from findings.rules.assets import (
    LEGACY_ASSET_TYPES,
    MAX_IDENTIFIER_LENGTH,
    AssetType,
    InvalidAssetIdentifier,
    NormalizedAsset,
    Provider,
    detect_provider,
    normalize_asset,
    parse_asset_type,
)
from findings.rules.categories import (
    TOOL_CATEGORIES,
    FindingType,
    SourceCategory,
    known_tool,
    normalize_tool_name,
    source_category_for_tool,
)
from findings.rules.fingerprint import (
    FingerprintInput,
    FingerprintType,
    compute_fingerprint,
    container_fingerprint,
    dast_fingerprint,
    detect_fingerprint_type,
    generic_fingerprint,
    is_well_formed_fingerprint,
    misconfig_fingerprint,
    normalize_address,
    normalize_text,
    nuclei_fingerprint,
    sarif_fingerprint,
    sast_fingerprint,
    sca_fingerprint,
    secret_fingerprint,
    seed_fingerprint,
    semgrep_fingerprint,
    trivy_misconfiguration_fingerprint,
    trivy_secret_fingerprint,
    trivy_vulnerability_fingerprint,
    web3_fingerprint,
)
from findings.rules.severity import (
    Severity,
    normalize_severity,
    severity_from_codeql,
    severity_from_cvss,
    severity_from_sarif_level,
    severity_from_semgrep,
    severity_from_trivy,
)
from tests.properties.strategies import AWKWARD, json_values, properties

# Surrogates included: a JSON report may carry "\ud800", and it reaches the fingerprints.
TEXT = st.text() | st.text(st.characters(codec=None, categories=["Cs", "Zs", "Lu", "Lt"]))
OPTIONAL_TEXT = st.none() | TEXT | AWKWARD.filter(lambda v: isinstance(v, str))
# Go's int: the SDK prints lines and chain ids with %d.
GO_INT = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Go's unicode.IsSpace, which normalize_text trims.
GO_SPACE = st.text(st.sampled_from("\t\n\v\f\r \x85\xa0\u2000\u3000"), max_size=3)
NAME = st.text(string.ascii_letters + string.digits + "._-/", min_size=1, max_size=30)


def cased(draw, text: str) -> str:
    """`text` with its ASCII letters in any case. Only ASCII: Go's per-rune lower-casing
    and Python's upper-casing disagree beyond it ("ß" upper-cases to "SS")."""
    # One draw for the whole text: a draw per character makes these tests slow.
    upper = draw(st.integers(min_value=0, max_value=2 ** len(text) - 1))
    return "".join(
        ch.upper() if ch.isascii() and upper >> i & 1 else ch for i, ch in enumerate(text)
    )


def respelled(draw, text: str) -> str:
    """`text` in any case, with Windows separators and Go space around it: what
    normalize_text promises to see through."""
    text = text.replace("/", "\\") if draw(st.booleans()) else text
    return draw(GO_SPACE) + cased(draw, text) + draw(GO_SPACE)


def as_go_reads(text: str) -> str:
    """Go decodes a lone surrogate in JSON as U+FFFD, and the fingerprints follow it."""
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


# ---------------------------------------------------------------- fingerprints


class TestFingerprintShape:
    @properties()
    @given(
        path=OPTIONAL_TEXT,
        rule_id=OPTIONAL_TEXT,
        text=OPTIONAL_TEXT,
        other=OPTIONAL_TEXT,
        start=GO_INT,
        end=GO_INT,
    )
    def test_every_formula_is_a_sha256_hex_digest_for_any_input(
        self, path, rule_id, text, other, start, end
    ):
        digests = [
            sast_fingerprint(path=path, rule_id=rule_id, start_line=start, end_line=end),
            sca_fingerprint(package=path, version=text, vuln_id=rule_id),
            secret_fingerprint(path=path, rule_id=rule_id, start_line=start, secret=text),
            misconfig_fingerprint(
                resource_type=text, resource_name=other, rule_id=rule_id, path=path
            ),
            dast_fingerprint(rule_id=rule_id, host=text, url_path=path, parameter=other),
            container_fingerprint(image=text, package=path, version=other, vuln_id=rule_id),
            web3_fingerprint(
                address=text, chain_id=start, swc_id=rule_id, function_signature=other
            ),
            generic_fingerprint(
                rule_id=rule_id, path=path, start_line=start, end_line=end, message=text
            ),
            nuclei_fingerprint(rule_id, text, path, other),
        ]
        for digest in digests:
            assert SHA256_HEX.fullmatch(digest), digest
            assert is_well_formed_fingerprint(digest)

    @properties()
    @given(a=OPTIONAL_TEXT, b=OPTIONAL_TEXT, c=OPTIONAL_TEXT, line=GO_INT)
    def test_trivy_formulas_keep_half_a_digest(self, a, b, c, line):
        for digest in (
            trivy_vulnerability_fingerprint(a, b, c, a),
            trivy_misconfiguration_fingerprint(a, b, c, b),
            trivy_secret_fingerprint(a, b, line, c),
        ):
            assert re.fullmatch(r"[0-9a-f]{32}", digest)

    @properties()
    @given(
        inp=st.builds(
            FingerprintInput,
            **dict.fromkeys(
                [
                    "rule_id",
                    "path",
                    "message",
                    "package",
                    "version",
                    "vuln_id",
                    "secret",
                    "resource_type",
                    "resource_name",
                    "host",
                    "url_path",
                    "parameter",
                    "image",
                    "address",
                    "swc_id",
                    "function_signature",
                ],
                OPTIONAL_TEXT,
            ),
            start_line=GO_INT,
            end_line=GO_INT,
            chain_id=GO_INT,
        ),
        kind=st.none() | st.sampled_from(FingerprintType),
    )
    def test_compute_is_deterministic_and_uses_the_detected_formula(self, inp, kind):
        first = compute_fingerprint(inp, kind)
        assert first == compute_fingerprint(inp, kind)
        assert SHA256_HEX.fullmatch(first)
        if kind is None:
            assert first == compute_fingerprint(inp, detect_fingerprint_type(inp))

    @properties()
    @given(rule_id=OPTIONAL_TEXT, path=OPTIONAL_TEXT, message=OPTIONAL_TEXT, a=GO_INT, b=GO_INT)
    def test_the_seed_rule_is_the_generic_formula(self, rule_id, path, message, a, b):
        assert seed_fingerprint(rule_id, path, a, b, message) == generic_fingerprint(
            rule_id=rule_id, path=path, start_line=a, end_line=b, message=message
        )

    @properties()
    @given(fingerprints=st.none() | st.dictionaries(TEXT, json_values(max_leaves=3), max_size=4))
    def test_a_sarif_fingerprint_is_at_most_64_bytes_and_the_first_text_value(self, fingerprints):
        found = sarif_fingerprint(fingerprints)
        texts = [v for v in (fingerprints or {}).values() if isinstance(v, str) and v]
        if not texts:
            assert found is None
            return
        assert len(as_go_reads(found).encode()) <= 64
        if len(as_go_reads(texts[0]).encode()) <= 64:
            assert found == texts[0]

    @properties()
    @given(tool=OPTIONAL_TEXT, path=OPTIONAL_TEXT, rule_id=OPTIONAL_TEXT, line=GO_INT)
    def test_semgrep_keeps_only_a_hex_tool_fingerprint(self, tool, path, rule_id, line):
        found = semgrep_fingerprint(
            tool_fingerprint=tool, path=path, rule_id=rule_id, start_line=line
        )
        computed = sast_fingerprint(path=path, rule_id=rule_id, start_line=line)
        assert found in (tool, computed)
        if found == tool and tool != computed:
            assert re.fullmatch(r"[0-9a-fA-F]{16,}(_\d+)?", tool)


class TestFingerprintNormalisation:
    @properties()
    @given(text=OPTIONAL_TEXT)
    def test_normalising_text_twice_changes_nothing(self, text):
        once = normalize_text(text)
        assert normalize_text(once) == once

    @properties()
    @given(text=OPTIONAL_TEXT)
    def test_a_field_and_its_normal_form_fingerprint_alike(self, text):
        assert sast_fingerprint(path=text, rule_id=text) == sast_fingerprint(
            path=normalize_text(text), rule_id=normalize_text(text)
        )

    @properties()
    @given(data=st.data(), path=NAME, rule_id=NAME, package=NAME, line=GO_INT)
    def test_case_separators_and_surrounding_space_do_not_move_a_fingerprint(
        self, data, path, rule_id, package, line
    ):
        def again(text: str) -> str:
            return respelled(data.draw, text)

        assert sast_fingerprint(path=path, rule_id=rule_id, start_line=line) == sast_fingerprint(
            path=again(path), rule_id=again(rule_id), start_line=line
        )
        assert sca_fingerprint(package=package, version=path, vuln_id=rule_id) == (
            sca_fingerprint(package=again(package), version=again(path), vuln_id=again(rule_id))
        )
        assert misconfig_fingerprint(resource_type=package, rule_id=rule_id, path=path) == (
            misconfig_fingerprint(
                resource_type=again(package), rule_id=again(rule_id), path=again(path)
            )
        )
        assert generic_fingerprint(rule_id=rule_id, path=path, message=package) == (
            generic_fingerprint(rule_id=again(rule_id), path=again(path), message=again(package))
        )

    @properties()
    @given(
        data=st.data(),
        host=st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9-]{1,10})*\.[a-z]{2,6}", fullmatch=True),
        segments=st.lists(st.from_regex(r"[a-z0-9_.-]{1,8}", fullmatch=True), max_size=4),
        rule_id=NAME,
    )
    def test_a_web_finding_ignores_scheme_default_port_query_and_trailing_slash(
        self, data, host, segments, rule_id
    ):
        path = "/" + "/".join(segments)
        canonical = dast_fingerprint(rule_id=rule_id, host=host, url_path=path)
        scheme = data.draw(st.sampled_from(["", "http://", "https://"]))
        port = {"": "", "http://": ":80", "https://": ":443"}[scheme]
        port = data.draw(st.sampled_from(["", port]))
        spelled_host = scheme + host + port + data.draw(st.sampled_from(["", "/"]))
        spelled_host = data.draw(GO_SPACE) + cased(data.draw, spelled_host)
        spelled_path = path
        if segments:  # "" is no path at all, unlike "/", so only a real path may lose it
            spelled_path = data.draw(st.sampled_from([path, path[1:], path + "/"]))
        query = data.draw(st.sampled_from(["", "?q=1", "#top", "?a=b#c"]))
        spelled_path = cased(data.draw, spelled_path + query) + data.draw(GO_SPACE)
        assert canonical == dast_fingerprint(
            rule_id=rule_id, host=spelled_host, url_path=spelled_path
        )

    @properties()
    @given(address=st.from_regex(r"[0-9a-f]{40}", fullmatch=True), chain=GO_INT)
    def test_an_evm_address_is_the_same_with_or_without_0x_in_any_case(self, address, chain):
        canonical = web3_fingerprint(address="0x" + address, chain_id=chain)
        assert web3_fingerprint(address=address.upper(), chain_id=chain) == canonical
        assert web3_fingerprint(address=" 0x" + address.upper(), chain_id=chain) == canonical
        assert normalize_address(normalize_address(address)) == normalize_address(address)


class TestFingerprintSensitivity:
    """Only one field differs each time: a collision would merge two distinct findings."""

    @properties()
    @given(path=OPTIONAL_TEXT, rule_a=OPTIONAL_TEXT, rule_b=OPTIONAL_TEXT, line=GO_INT)
    def test_another_rule_is_another_finding(self, path, rule_a, rule_b, line):
        assume(normalize_text(rule_a) != normalize_text(rule_b))
        assert sast_fingerprint(path=path, rule_id=rule_a, start_line=line) != sast_fingerprint(
            path=path, rule_id=rule_b, start_line=line
        )
        assert generic_fingerprint(rule_id=rule_a, path=path) != generic_fingerprint(
            rule_id=rule_b, path=path
        )
        assert dast_fingerprint(rule_id=rule_a, host=path) != dast_fingerprint(
            rule_id=rule_b, host=path
        )

    @properties()
    @given(path_a=OPTIONAL_TEXT, path_b=OPTIONAL_TEXT, rule_id=OPTIONAL_TEXT, line=GO_INT)
    def test_another_file_is_another_finding(self, path_a, path_b, rule_id, line):
        assume(normalize_text(path_a) != normalize_text(path_b))
        assert sast_fingerprint(path=path_a, rule_id=rule_id, start_line=line) != (
            sast_fingerprint(path=path_b, rule_id=rule_id, start_line=line)
        )
        assert secret_fingerprint(path=path_a, rule_id=rule_id, secret="s") != (
            secret_fingerprint(path=path_b, rule_id=rule_id, secret="s")
        )

    @properties()
    @given(path=OPTIONAL_TEXT, rule_id=OPTIONAL_TEXT, a=GO_INT, b=GO_INT)
    def test_another_line_is_another_finding(self, path, rule_id, a, b):
        assume(a != b)
        assert sast_fingerprint(path=path, rule_id=rule_id, start_line=a) != sast_fingerprint(
            path=path, rule_id=rule_id, start_line=b
        )
        assert sast_fingerprint(path=path, rule_id=rule_id, end_line=a) != sast_fingerprint(
            path=path, rule_id=rule_id, end_line=b
        )

    @properties()
    @given(secret_a=TEXT, secret_b=TEXT, path=OPTIONAL_TEXT)
    def test_another_secret_is_another_finding_case_and_spaces_included(
        self, secret_a, secret_b, path
    ):
        # Lone surrogates all hash as U+FFFD, as Go reads them, so those do collide.
        assume(secret_a and secret_b and as_go_reads(secret_a) != as_go_reads(secret_b))
        assert secret_fingerprint(path=path, secret=secret_a) != secret_fingerprint(
            path=path, secret=secret_b
        )


# ---------------------------------------------------------------- severity

ANY_WORD = st.none() | TEXT | AWKWARD | json_values(max_leaves=3)
VOCABULARY = st.sampled_from(
    [
        "critical",
        "crit",
        "high",
        "error",
        "severe",
        "medium",
        "moderate",
        "warning",
        "warn",
        "med",
        "low",
        "info",
        "informational",
        "note",
        "none",
    ]
)
SCORE = st.floats(min_value=0, max_value=10) | st.integers(min_value=0, max_value=10)


class TestSeverityNormalisation:
    @properties()
    @given(value=ANY_WORD)
    def test_any_value_maps_to_a_level_or_none_and_a_level_to_itself(self, value):
        once = normalize_severity(value)
        assert once in (*Severity, None)
        if once is not None:
            assert normalize_severity(once) is once

    @properties()
    @given(word=VOCABULARY, data=st.data())
    def test_a_known_word_in_any_case_and_padding_normalises_idempotently(self, word, data):
        spelled = cased(data.draw, word)
        padding = st.text(" \t\n", max_size=2)
        once = normalize_severity(data.draw(padding) + spelled + data.draw(padding))
        assert once is normalize_severity(word) is not None
        assert normalize_severity(once) is normalize_severity(once.value) is once

    @properties()
    @given(value=ANY_WORD, other=ANY_WORD)
    def test_the_tool_vocabularies_always_answer_a_level(self, value, other):
        assert severity_from_sarif_level(value) in Severity
        assert severity_from_semgrep(value, other) in Severity
        assert severity_from_trivy(value) in Severity
        assert severity_from_codeql(value, other) in Severity

    def test_ranks_and_scores_order_the_levels_alike(self):
        levels = sorted(Severity, key=lambda s: s.rank)
        assert [s.score for s in levels] == sorted(s.score for s in Severity)
        assert len({s.rank for s in Severity}) == len(Severity)
        for level in Severity:
            assert severity_from_cvss(level.score) is level


class TestCvssBands:
    @properties()
    @given(a=SCORE, b=SCORE)
    def test_a_higher_score_is_never_a_lower_severity(self, a, b):
        low, high = sorted((a, b))
        assert severity_from_cvss(low).rank <= severity_from_cvss(high).rank
        assert severity_from_codeql(low).rank <= severity_from_codeql(high).rank

    @properties()
    @given(score=SCORE)
    def test_codeql_scores_agree_with_the_cvss_bands_but_below_0_1(self, score):
        assume(not 0 < score < 0.1)
        assert severity_from_codeql(score) is severity_from_cvss(score)
        assert severity_from_codeql(str(score)) is severity_from_cvss(score)

    @properties()
    @given(
        score=st.floats().filter(lambda x: not 0 <= x <= 10)
        | st.integers().filter(lambda x: not 0 <= x <= 10)
        | st.sampled_from([10**400, -(10**400), 2**1024])
    )
    def test_a_score_outside_0_to_10_is_a_value_error(self, score):
        try:
            severity_from_cvss(score)
        except ValueError:
            return
        raise AssertionError(f"{score!r} was given a severity")

    @properties()
    @given(score=st.none() | st.booleans() | TEXT | st.lists(st.integers(), max_size=2))
    def test_a_score_that_is_not_a_number_is_a_type_error(self, score):
        try:
            severity_from_cvss(score)
        except TypeError:
            return
        raise AssertionError(f"{score!r} was given a severity")

    @properties()
    @given(
        score=st.floats() | st.integers() | st.sampled_from([10**400, -(10**400)]),
        level=ANY_WORD,
    )
    def test_codeql_ignores_a_score_outside_0_to_10_for_its_level(self, score, level):
        assume(not 0 <= score <= 10)
        assert severity_from_codeql(score, level) is severity_from_codeql(None, level)


# ---------------------------------------------------------------- assets

ASSET_TYPE = st.none() | st.sampled_from([*AssetType, *LEGACY_ASSET_TYPES]) | TEXT
OWNER = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}", fullmatch=True)
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
DOMAIN = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(LABEL, min_size=1, max_size=3),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)
# Identifiers worth normalising: arbitrary text rarely looks like any kind of asset.
IDENTIFIER = (
    TEXT
    | AWKWARD.filter(lambda v: isinstance(v, str))
    | DOMAIN
    | st.ip_addresses().map(str)
    | st.builds(
        "{}{}/{}/{}{}".format,
        st.sampled_from(["", "https://", "http://www.", "ssh://git@", "git+https://"]),
        st.sampled_from(["github.com", "gitlab.com", "git.example.com", "dev.azure.com"]),
        OWNER,
        OWNER,
        st.sampled_from(["", ".git", "/", "/tree/main", "/-/blob/x", "/_git/r"]),
    )
    | st.builds(
        "{}{}:{}".format,
        st.sampled_from(["", "docker.io/", "ghcr.io/", "quay.io/", "localhost:5000/"]),
        LABEL,
        st.from_regex(r"\w[\w.-]{0,10}", fullmatch=True),
    )
    | st.builds(
        "{}{}{}".format,
        st.sampled_from(
            ["arn:aws:iam::", "aws:", "gcp:", "projects/", "//storage.googleapis.com/", "azure:"]
        ),
        st.from_regex(r"[0-9a-f:/-]{0,40}", fullmatch=True),
        st.sampled_from(["", "/", "//"]),
    )
)


def normalized_or_refused(identifier, asset_type=None, name=None) -> NormalizedAsset | None:
    try:
        result = normalize_asset(identifier, asset_type, name)
    except InvalidAssetIdentifier as exc:
        assert str(exc)
        return None
    assert isinstance(result.type, AssetType)
    assert isinstance(result.identifier, str)
    assert 0 < len(result.identifier) <= MAX_IDENTIFIER_LENGTH
    assert result.provider is None or isinstance(result.provider, Provider)
    assert isinstance(result.name, str)
    return result


class TestAssetNormalisation:
    @properties(300)
    @given(identifier=IDENTIFIER, asset_type=ASSET_TYPE, name=st.none() | TEXT)
    def test_any_identifier_normalises_or_is_refused_as_invalid(self, identifier, asset_type, name):
        normalized_or_refused(identifier, asset_type, name)
        assert detect_provider(identifier) in (*Provider, None)

    @properties(300)
    @given(identifier=IDENTIFIER, asset_type=st.none() | st.sampled_from(AssetType))
    def test_normalising_the_result_again_changes_nothing(self, identifier, asset_type):
        first = normalized_or_refused(identifier, asset_type)
        assume(first is not None)
        again = normalized_or_refused(first.identifier, first.type)
        assert again is not None, f"{first.identifier!r} was refused as {first.type}"
        assert (again.type, again.identifier, again.provider) == (
            first.type,
            first.identifier,
            first.provider,
        )

    @properties()
    @given(
        owner=OWNER,
        repo=OWNER,
        host=st.sampled_from(["github.com", "gitlab.com", "bitbucket.org"]),
        data=st.data(),
    )
    def test_every_spelling_of_a_code_host_repository_is_one_asset(self, owner, repo, host, data):
        spelling = data.draw(
            st.sampled_from(
                [
                    "https://{h}/{o}/{r}",
                    "https://{h}/{o}/{r}.git",
                    "http://www.{h}/{o}/{r}/",
                    "git@{h}:{o}/{r}.git",
                    "ssh://git@{h}/{o}/{r}",
                    "https://token:secret@{h}/{o}/{r}",
                    "{h}/{o}/{r}",
                    " HTTPS://{H}/{O}/{R} ",
                ]
            )
        )
        url = spelling.format(h=host, o=owner, r=repo, H=host.upper(), O=owner.upper(), R=repo)
        result = normalize_asset(url)
        assert result.type is AssetType.REPOSITORY
        assert result.identifier == f"{host}/{owner}/{repo}".lower()

    @properties()
    @given(domain=DOMAIN, data=st.data())
    def test_a_domain_is_the_same_in_any_case_and_with_a_final_dot(self, domain, data):
        spelled = cased(data.draw, domain)
        spelled += data.draw(st.sampled_from(["", "."]))
        assert normalize_asset(spelled, "domain").identifier == domain
        inferred = normalize_asset(spelled)
        assert inferred.identifier == normalize_asset(domain).identifier

    @properties()
    @given(domain=DOMAIN, path=st.from_regex(r"(/[a-z0-9]{1,6}){0,3}", fullmatch=True))
    def test_a_website_ignores_scheme_case_default_port_and_fragment(self, domain, path):
        canonical = normalize_asset(f"https://{domain}{path}")
        assert canonical.type is AssetType.WEBSITE
        for spelling in (f"HTTPS://{domain.upper()}:443{path}", f"https://{domain}{path}#top"):
            assert normalize_asset(spelling).identifier == canonical.identifier

    @properties()
    @given(address=st.ip_addresses())
    def test_an_ip_address_takes_the_form_ipaddress_prints(self, address):
        for spelling in (str(address), str(address).upper(), address.exploded):
            result = normalize_asset(spelling)
            assert (result.type, result.identifier) == (AssetType.IP_ADDRESS, str(address))

    @properties()
    @given(address=st.ip_addresses(), data=st.data())
    def test_a_network_is_its_address_with_the_host_bits_cleared(self, address, data):
        prefix = data.draw(st.integers(min_value=0, max_value=address.max_prefixlen))
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        result = normalize_asset(f"{address}/{prefix}")
        assert (result.type, result.identifier) == (AssetType.NETWORK, str(network))

    @properties()
    @given(name=LABEL, tag=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,10}", fullmatch=True))
    def test_a_docker_hub_image_is_spelled_out_in_full(self, name, tag):
        canonical = f"docker.io/library/{name}:{tag}"
        for spelling in (f"{name}:{tag}", f"library/{name}:{tag}", f"index.docker.io/{name}:{tag}"):
            assert normalize_asset(spelling, "container").identifier == canonical
        assert normalize_asset(name, "container").identifier == f"docker.io/library/{name}:latest"

    @properties()
    @given(account=st.from_regex(r"[0-9]{12}", fullmatch=True))
    def test_an_aws_account_is_its_twelve_digits(self, account):
        for spelling in (account, f"aws:{account}", f"arn:aws:iam::{account}:root"):
            result = normalize_asset(spelling)
            assert result.type is AssetType.CLOUD_ACCOUNT
            assert result.provider is Provider.AWS
        assert normalize_asset(account).identifier == account


class TestAssetTypes:
    @properties()
    @given(value=st.none() | TEXT | AWKWARD)
    def test_any_value_is_a_type_or_none(self, value):
        assert parse_asset_type(value) in (*AssetType, None)

    @properties()
    @given(kind=st.sampled_from([*AssetType, *LEGACY_ASSET_TYPES]), data=st.data())
    def test_case_dashes_and_spaces_do_not_matter(self, kind, data):
        expected = parse_asset_type(kind)
        spelled = cased(data.draw, kind).replace("_", data.draw(st.sampled_from("- _")))
        assert parse_asset_type(f" {spelled} ") is expected is not None
        assert parse_asset_type(expected.value) is expected


# ---------------------------------------------------------------- tool categories


class TestToolCategories:
    @properties()
    @given(name=st.none() | TEXT | AWKWARD)
    def test_normalising_a_tool_name_twice_changes_nothing(self, name):
        once = normalize_tool_name(name)
        assert normalize_tool_name(once) == once

    @properties()
    @given(
        tool=st.sampled_from(sorted(TOOL_CATEGORIES)),
        prefix=st.sampled_from(["", "aquasec/", "ghcr.io/org/"]),
        suffix=st.sampled_from(["", " v0.48", "-1.50.0", ":0.50", "_2"]),
        data=st.data(),
    )
    def test_a_known_tool_is_known_in_any_spelling_and_version(self, tool, prefix, suffix, data):
        spelled = cased(data.draw, tool).replace("-", data.draw(st.sampled_from("_ -")))
        assert known_tool(f" {prefix}{spelled}{suffix} ") == tool

    @properties()
    @given(tool=st.none() | TEXT | AWKWARD, kind=st.none() | TEXT | st.sampled_from(FindingType))
    def test_any_tool_and_finding_type_give_a_category_or_none(self, tool, kind):
        assert source_category_for_tool(tool, kind) in (*SourceCategory, None)

    @properties()
    @given(tool=st.sampled_from(sorted(TOOL_CATEGORIES)))
    def test_a_known_tool_reporting_a_vulnerability_keeps_its_own_category(self, tool):
        assert source_category_for_tool(tool, FindingType.VULNERABILITY) is TOOL_CATEGORIES[tool]
