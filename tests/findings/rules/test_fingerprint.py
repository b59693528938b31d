"""Expected values are sha256 of the SDK's ``:``-joined strings, written out by hand."""

from __future__ import annotations

import hashlib

import pytest

from findings.rules.fingerprint import (
    MAX_FINGERPRINT_LENGTH,
    FingerprintInput,
    FingerprintType,
    compute_fingerprint,
    container_fingerprint,
    dast_fingerprint,
    detect_fingerprint_type,
    generic_fingerprint,
    gitleaks_fingerprint,
    is_well_formed_fingerprint,
    misconfig_fingerprint,
    normalize_address,
    normalize_host,
    normalize_text,
    normalize_url_path,
    nuclei_fingerprint,
    sarif_fingerprint,
    sast_fingerprint,
    sca_fingerprint,
    secret_fingerprint,
    seed_fingerprint,
    semgrep_fingerprint,
    sha256_hex,
    trivy_misconfiguration_fingerprint,
    trivy_secret_fingerprint,
    trivy_vulnerability_fingerprint,
    web3_fingerprint,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


ADDRESS = "0x1234567890abcdef1234567890abcdef12345678"


class TestFormulas:
    def test_sast_hashes_path_rule_and_both_lines(self):
        expected = sha("sast:src/app.py:python.lang.eval:10:12")
        got = sast_fingerprint(
            path="src/app.py", rule_id="python.lang.eval", start_line=10, end_line=12
        )
        assert got == expected

    def test_sca_hashes_package_version_and_vulnerability_lower_cased(self):
        expected = sha("sca:lodash:4.17.20:cve-2021-23337")
        got = sca_fingerprint(package="lodash", version="4.17.20", vuln_id="CVE-2021-23337")
        assert got == expected

    def test_secret_appends_the_first_16_hex_of_the_raw_secret_hash(self):
        secret_hash = hashlib.sha256(b"AKIAIOSFODNN7EXAMPLE").hexdigest()[:16]
        expected = sha(f"secret:.env:aws-access-key:5:{secret_hash}")
        got = secret_fingerprint(
            path=".env", rule_id="aws-access-key", start_line=5, secret="AKIAIOSFODNN7EXAMPLE"
        )
        assert got == expected

    @pytest.mark.parametrize("secret", [None, ""])
    def test_secret_without_a_value_ends_with_an_empty_part(self, secret):
        expected = sha("secret:.env:api-key:10:")
        got = secret_fingerprint(path=".env", rule_id="api-key", start_line=10, secret=secret)
        assert got == expected

    def test_the_secret_value_itself_is_not_normalised(self):
        lower = secret_fingerprint(path="a", rule_id="r", start_line=1, secret="abc")
        upper = secret_fingerprint(path="a", rule_id="r", start_line=1, secret="ABC")
        assert lower != upper

    def test_misconfig_hashes_resource_rule_and_path(self):
        expected = sha("misconfig:aws_s3_bucket:my-bucket:s3-public-access:main.tf")
        got = misconfig_fingerprint(
            resource_type="aws_s3_bucket",
            resource_name="my-bucket",
            rule_id="s3-public-access",
            path="main.tf",
        )
        assert got == expected

    def test_dast_normalises_host_and_path_and_keeps_the_parameter_name(self):
        expected = sha("dast:cve-2021-44228-log4j:example.com:/api/users:id")
        got = dast_fingerprint(
            rule_id="CVE-2021-44228-log4j",
            host="https://Example.com:443/",
            url_path="/API/users/?id=1#top",
            parameter="ID",
        )
        assert got == expected

    def test_container_hashes_image_package_version_and_vulnerability(self):
        expected = sha("container:nginx:1.21:openssl:1.1.1k-r0:cve-2021-3711")
        got = container_fingerprint(
            image="nginx:1.21", package="openssl", version="1.1.1k-r0", vuln_id="CVE-2021-3711"
        )
        assert got == expected

    def test_web3_prefixes_a_bare_address_and_prints_the_chain_id(self):
        expected = sha(f"web3:{ADDRESS}:1:swc-107:transfer(address,uint256)")
        got = web3_fingerprint(
            address="1234567890ABCDEF1234567890abcdef12345678",
            chain_id=1,
            swc_id="SWC-107",
            function_signature="transfer(address,uint256)",
        )
        assert got == expected

    def test_generic_hashes_rule_path_lines_and_message(self):
        expected = sha("generic:custom-rule:file.txt:1:10:some finding message")
        got = generic_fingerprint(
            rule_id="custom-rule",
            path="file.txt",
            start_line=1,
            end_line=10,
            message="Some finding message",
        )
        assert got == expected

    def test_missing_strings_are_empty_and_missing_integers_zero(self):
        assert sast_fingerprint() == sha("sast:::0:0")
        assert generic_fingerprint() == sha("generic:::0:0:")
        assert web3_fingerprint() == sha("web3::0::")

    def test_integers_print_in_decimal_like_go(self):
        assert sast_fingerprint(path="a", rule_id="r", start_line=-1, end_line=0) == sha(
            "sast:a:r:-1:0"
        )

    def test_every_fingerprint_is_64_lower_case_hex(self):
        value = sca_fingerprint(package="p", version="1", vuln_id="v")
        assert len(value) == 64
        assert set(value) <= set("0123456789abcdef")


class TestSeedRule:
    def test_the_seed_fingerprint_is_the_generic_formula(self):
        expected = sha("generic:javascript.express.security.injection:src/api/users.js:42:42:sql")
        got = seed_fingerprint(
            "javascript.express.security.injection", "src/api/users.js", 42, 42, "SQL"
        )
        assert got == expected

    def test_the_seed_fingerprint_separates_its_parts(self):
        # Unseparated concatenation would make these two collide.
        assert seed_fingerprint("r1", "a", 1, 2, "m") != seed_fingerprint("r", "1a", 1, 2, "m")


class TestNormalisation:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("  HELLO  ", "hello"),
            ("SRC\\Main.go", "src/main.go"),
            ("PATH/TO/FILE", "path/to/file"),
            ("  Spaces\t", "spaces"),
            ("", ""),
            (None, ""),
        ],
    )
    def test_text_is_trimmed_lower_cased_and_uses_forward_slashes(self, raw, expected):
        assert normalize_text(raw) == expected

    def test_case_and_windows_separators_do_not_change_a_fingerprint(self):
        a = sast_fingerprint(path="SRC\\Main\\App.go", rule_id=" RULE ", start_line=10, end_line=20)
        b = sast_fingerprint(path="src/main/app.go", rule_id="rule", start_line=10, end_line=20)
        assert a == b == sha("sast:src/main/app.go:rule:10:20")

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("https://example.com:443", "example.com"),
            ("http://example.com:80", "example.com"),
            ("https://example.com", "example.com"),
            ("http://example.com/", "example.com"),
            ("EXAMPLE.COM", "example.com"),
            ("api.example.com:8080", "api.example.com:8080"),
            ("https://example.com:443/", "example.com"),
            ("https://example.com/path", "example.com/path"),
            ("", ""),
        ],
    )
    def test_hosts_lose_scheme_default_port_and_trailing_slash(self, raw, expected):
        assert normalize_host(raw) == expected

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("/api/users?id=1", "/api/users"),
            ("/api/users#section", "/api/users"),
            ("api/users", "/api/users"),
            ("/api/users/", "/api/users"),
            ("/", "/"),
            ("", ""),
            ("/API/USERS", "/api/users"),
            ("?only=query", ""),
        ],
    )
    def test_url_paths_lose_query_fragment_and_trailing_slash(self, raw, expected):
        assert normalize_url_path(raw) == expected

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("0x1234567890ABCDEF1234567890abcdef12345678", ADDRESS),
            ("1234567890abcdef1234567890abcdef12345678", ADDRESS),
            ("0xABCD", "0xabcd"),
            ("", ""),
        ],
    )
    def test_addresses_are_lower_case_with_an_0x_prefix(self, raw, expected):
        assert normalize_address(raw) == expected

    def test_trimming_follows_go_which_keeps_ascii_separator_controls(self):
        assert normalize_text("\x1crule\u3000") == "\x1crule"

    def test_lower_casing_follows_go_without_final_sigma(self):
        assert normalize_text("ΟΔΟΣ") == "οδοσ"
        assert normalize_text("İ") == "i"

    def test_a_lone_surrogate_hashes_as_the_replacement_character(self):
        assert sha256_hex("a\ud800") == sha("a\ufffd")


class TestDetectType:
    @pytest.mark.parametrize(
        ("inp", "expected"),
        [
            (FingerprintInput(address="0x1234"), FingerprintType.WEB3),
            (FingerprintInput(swc_id="SWC-101"), FingerprintType.WEB3),
            (FingerprintInput(image="nginx:latest", package="openssl"), FingerprintType.CONTAINER),
            (FingerprintInput(host="example.com"), FingerprintType.DAST),
            (FingerprintInput(package="lodash", vuln_id="CVE-1"), FingerprintType.SCA),
            (FingerprintInput(secret="sk-1"), FingerprintType.SECRET),
            (FingerprintInput(resource_type="aws_s3_bucket"), FingerprintType.MISCONFIG),
            (FingerprintInput(resource_name="my-bucket"), FingerprintType.MISCONFIG),
            (FingerprintInput(path="a.go", rule_id="r", start_line=10), FingerprintType.SAST),
            (FingerprintInput(path="a.go", rule_id="r"), FingerprintType.GENERIC),
            (FingerprintInput(), FingerprintType.GENERIC),
        ],
    )
    def test_each_kind_is_recognised_by_its_fields(self, inp, expected):
        assert detect_fingerprint_type(inp) is expected

    def test_the_sdk_order_decides_between_overlapping_kinds(self):
        everything = FingerprintInput(
            address="0x1",
            image="nginx",
            package="openssl",
            host="example.com",
            vuln_id="CVE-1",
            secret="s",
            resource_type="t",
            path="a",
            rule_id="r",
            start_line=1,
        )
        assert detect_fingerprint_type(everything) is FingerprintType.WEB3
        no_web3 = FingerprintInput(image="nginx", package="openssl", host="example.com")
        assert detect_fingerprint_type(no_web3) is FingerprintType.CONTAINER
        an_image_without_package = FingerprintInput(image="nginx", host="example.com")
        assert detect_fingerprint_type(an_image_without_package) is FingerprintType.DAST
        sca_and_secret = FingerprintInput(package="p", vuln_id="v", secret="s")
        assert detect_fingerprint_type(sca_and_secret) is FingerprintType.SCA


class TestComputeFingerprint:
    def test_it_detects_the_type_when_none_is_given(self):
        inp = FingerprintInput(package="express", version="4.17.1", vuln_id="CVE-2022-24999")
        assert compute_fingerprint(inp) == sha("sca:express:4.17.1:cve-2022-24999")

    def test_an_explicit_type_wins_over_the_fields(self):
        inp = FingerprintInput(path="app.go", rule_id="rule-001", package="p", vuln_id="CVE-1")
        assert compute_fingerprint(inp, FingerprintType.SAST) == sha("sast:app.go:rule-001:0:0")

    def test_the_type_may_be_given_as_its_string(self):
        inp = FingerprintInput(rule_id="r", path="p", message="M")
        result = compute_fingerprint(inp, "generic")  # type: ignore[arg-type]
        assert result == sha("generic:r:p:0:0:m")

    @pytest.mark.parametrize(
        ("inp", "kind", "expected_data"),
        [
            (
                FingerprintInput(secret="x", path="p", rule_id="r", start_line=3),
                FingerprintType.SECRET,
                f"secret:p:r:3:{hashlib.sha256(b'x').hexdigest()[:16]}",
            ),
            (
                FingerprintInput(resource_type="T", resource_name="N", rule_id="R", path="P"),
                FingerprintType.MISCONFIG,
                "misconfig:t:n:r:p",
            ),
            (
                FingerprintInput(rule_id="t", host="h", url_path="u", parameter="q"),
                FingerprintType.DAST,
                "dast:t:h:/u:q",
            ),
            (
                FingerprintInput(image="i", package="p", version="v", vuln_id="c"),
                FingerprintType.CONTAINER,
                "container:i:p:v:c",
            ),
            (
                FingerprintInput(address="0xA", chain_id=56, swc_id="S", function_signature="f()"),
                FingerprintType.WEB3,
                "web3:0xa:56:s:f()",
            ),
        ],
    )
    def test_each_type_uses_its_own_fields(self, inp, kind, expected_data):
        assert compute_fingerprint(inp) == sha(expected_data)
        assert compute_fingerprint(inp, kind) == sha(expected_data)

    def test_the_input_is_an_immutable_value(self):
        inp = FingerprintInput(rule_id="r")
        with pytest.raises(AttributeError):
            inp.rule_id = "other"  # type: ignore[misc]
        assert inp == FingerprintInput(rule_id="r")


class TestParserVariants:
    def test_semgrep_keeps_its_own_hash_fingerprint(self):
        own = "a3f1c2" * 10 + "beef"
        got = semgrep_fingerprint(tool_fingerprint=own, path="a.py", rule_id="r", start_line=3)
        assert got == own

    @pytest.mark.parametrize(
        "own", [None, "", "requires login", "abc123", "not-hex-but-long-enough"]
    )
    def test_semgrep_without_a_usable_fingerprint_uses_sast_with_end_line_zero(self, own):
        expected = sha("sast:src/app.py:python.lang.eval:10:0")
        got = semgrep_fingerprint(
            tool_fingerprint=own, path="src/app.py", rule_id="python.lang.eval", start_line=10
        )
        assert got == expected

    def test_gitleaks_keeps_its_own_fingerprint(self):
        own = "0a1b2c:config.env:generic-api-key:3"
        assert gitleaks_fingerprint(tool_fingerprint=own, path="config.env") == own

    def test_gitleaks_without_a_fingerprint_uses_the_secret_formula(self):
        secret_hash = hashlib.sha256(b"ghp_token").hexdigest()[:16]
        expected = sha(f"secret:config.env:github-pat:3:{secret_hash}")
        got = gitleaks_fingerprint(
            path="config.env", rule_id="github-pat", start_line=3, secret="ghp_token"
        )
        assert got == expected

    def test_trivy_vulnerability_is_32_hex_of_the_raw_parts(self):
        expected = sha("CVE-2021-3711:openssl:1.1.1k-r0:Alpine 3.14 (alpine 3.14.2)")[:32]
        got = trivy_vulnerability_fingerprint(
            "CVE-2021-3711", "openssl", "1.1.1k-r0", "Alpine 3.14 (alpine 3.14.2)"
        )
        assert got == expected

    def test_trivy_misconfiguration_is_32_hex_of_id_target_type_message(self):
        expected = sha("AVD-AWS-0086:main.tf:Terraform:No public access block")[:32]
        got = trivy_misconfiguration_fingerprint(
            "AVD-AWS-0086", "main.tf", "Terraform", "No public access block"
        )
        assert got == expected

    def test_trivy_secret_is_32_hex_of_rule_target_line_match(self):
        expected = sha("aws-access-key-id:config.env:3:AKIA****")[:32]
        assert (
            trivy_secret_fingerprint("aws-access-key-id", "config.env", 3, "AKIA****") == expected
        )

    def test_nuclei_joins_its_four_raw_fields_with_pipes(self):
        expected = sha("CVE-2021-44228|https://Example.com|https://Example.com/api?x=1|header")
        got = nuclei_fingerprint(
            "CVE-2021-44228", "https://Example.com", "https://Example.com/api?x=1", "header"
        )
        assert got == expected

    def test_nuclei_missing_fields_are_empty(self):
        assert nuclei_fingerprint("t", "h", None, None) == sha("t|h||")


class TestSarifFingerprint:
    def test_the_first_value_is_used_as_is(self):
        fingerprints = {"primaryLocationLineHash": "39fa2ee980eb94b0:1", "other": "zzz"}
        assert sarif_fingerprint(fingerprints) == "39fa2ee980eb94b0:1"

    def test_a_value_longer_than_64_is_hashed(self):
        long_value = "x" * 65
        assert sarif_fingerprint({"k": long_value}) == sha(long_value)

    def test_a_value_of_exactly_64_is_kept(self):
        value = "f" * 64
        assert sarif_fingerprint({"k": value}) == value

    def test_the_64_limit_counts_bytes_like_go(self):
        value = "é" * 33  # 33 characters, 66 bytes
        assert sarif_fingerprint({"k": value}) == sha(value)

    @pytest.mark.parametrize("fingerprints", [None, {}, {"k": ""}, {"k": None}, {"k": 5}])
    def test_nothing_usable_gives_none(self, fingerprints):
        assert sarif_fingerprint(fingerprints) is None

    def test_empty_values_are_skipped(self):
        assert sarif_fingerprint({"a": "", "b": "kept"}) == "kept"


class TestWellFormed:
    @pytest.mark.parametrize(
        "value",
        ["a" * 64, "sha256:abc123", "39fa2ee980eb94b0:1", "x", "f" * MAX_FINGERPRINT_LENGTH],
    )
    def test_plain_tokens_up_to_512_characters_are_accepted(self, value):
        assert is_well_formed_fingerprint(value)

    @pytest.mark.parametrize(
        "value",
        ["", None, 123, "a b", "a\tb", "a\nb", "a\x00b", "a\x7f", "\u200b", "f" * 513],
    )
    def test_empty_long_spaced_or_control_values_are_rejected(self, value):
        assert not is_well_formed_fingerprint(value)

    def test_the_limit_is_the_database_column_width(self):
        assert MAX_FINGERPRINT_LENGTH == 512


def test_semgrep_keeps_its_own_fingerprint_with_the_match_counter_suffix():
    from findings.rules.fingerprint import semgrep_fingerprint

    own = "0123456789abcdef0123456789abcdef_0"
    assert semgrep_fingerprint(tool_fingerprint=own, path="a.py", rule_id="r", start_line=3) == own
