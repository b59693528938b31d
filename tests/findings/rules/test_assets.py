from __future__ import annotations

import pytest

from findings.rules.assets import (
    LEGACY_ASSET_TYPES,
    AssetType,
    InvalidAssetIdentifier,
    NormalizedAsset,
    Provider,
    detect_provider,
    normalize_asset,
    parse_asset_type,
)

T = AssetType
GUID = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
DIGEST = "sha256:" + "ab" * 32


def asset(value: str, asset_type: AssetType | str | None = None) -> NormalizedAsset:
    return normalize_asset(value, asset_type)


class TestAssetTypes:
    def test_every_ris_asset_type_exists(self):
        ris = [
            "domain",
            "subdomain",
            "ip_address",
            "certificate",
            "website",
            "web_application",
            "api",
            "mobile_app",
            "service",
            "repository",
            "cloud_account",
            "compute",
            "storage",
            "database",
            "serverless",
            "container_registry",
            "host",
            "server",
            "container",
            "kubernetes",
            "kubernetes_cluster",
            "kubernetes_namespace",
            "network",
            "vpc",
            "subnet",
            "load_balancer",
            "firewall",
            "iam_user",
            "iam_role",
            "service_account",
            "http_service",
            "open_port",
            "discovered_url",
            "smart_contract",
            "wallet",
            "nft_collection",
            "defi_protocol",
            "token",
            "blockchain",
            "other",
        ]
        assert [t.value for t in AssetType] == ris

    def test_legacy_web_and_ip_map_to_their_ris_types(self):
        assert LEGACY_ASSET_TYPES["web"] is T.WEB_APPLICATION
        assert LEGACY_ASSET_TYPES["ip"] is T.IP_ADDRESS

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("repository", T.REPOSITORY),
            ("Web-Application", T.WEB_APPLICATION),
            (" cloud account ", T.CLOUD_ACCOUNT),
            ("web", T.WEB_APPLICATION),
            ("IP", T.IP_ADDRESS),
            ("repo", T.REPOSITORY),
            (T.CONTAINER, T.CONTAINER),
            ("spaceship", None),
            ("", None),
            (None, None),
        ],
    )
    def test_parse_asset_type_accepts_ris_and_legacy_spellings(self, value, expected):
        assert parse_asset_type(value) is expected


class TestRepositories:
    @pytest.mark.parametrize(
        "url",
        [
            "https://github.com/Org/Repo.git",
            "git@github.com:org/repo.git",
            "github.com/org/repo",
            "http://github.com/org/repo/",
            "ssh://git@github.com/org/repo.git",
            "ssh://git@github.com:22/org/repo.git",
            "https://www.github.com/org/repo",
            "https://github.com/org/repo/tree/main/src",
            "https://github.com/org/repo#readme",
            "  https://GitHub.com/ORG/REPO  ",
        ],
    )
    def test_every_github_spelling_is_one_identifier(self, url):
        result = asset(url)
        assert result == NormalizedAsset(
            T.REPOSITORY, "github.com/org/repo", "org/repo", Provider.GITHUB
        )

    @pytest.mark.parametrize(
        "url",
        [
            "https://x-access-token:ghp_SECRET123@github.com/org/repo.git",
            "https://user:p%40ss@github.com/org/repo",
            "https://oauth2:glpat-SECRET@github.com/org/repo",
        ],
    )
    def test_credentials_in_the_url_are_never_kept(self, url):
        result = asset(url)
        assert result.identifier == "github.com/org/repo"
        assert "SECRET" not in result.name and "@" not in result.identifier

    @pytest.mark.parametrize(
        "url",
        [
            "https://dev.azure.com/Org/Proj/_git/Repo",
            "https://user@dev.azure.com/org/proj/_git/repo",
            "org@vs-ssh.visualstudio.com:v3/org/proj/repo",
            "git@ssh.dev.azure.com:v3/org/proj/repo",
            "https://org.visualstudio.com/proj/_git/repo",
            "https://org.visualstudio.com/DefaultCollection/proj/_git/repo",
            "https://dev.azure.com/org/proj/_git/repo?path=/src",
        ],
    )
    def test_every_azure_devops_spelling_is_one_identifier(self, url):
        result = asset(url)
        assert result.identifier == "dev.azure.com/org/proj/_git/repo"
        assert result.name == "org/proj/repo"
        assert result.provider is Provider.AZURE_DEVOPS

    def test_an_azure_repo_named_like_its_project_may_omit_the_project(self):
        assert (
            asset("https://dev.azure.com/org/_git/app").identifier
            == "dev.azure.com/org/app/_git/app"
        )

    def test_gitlab_keeps_nested_groups_and_drops_ui_paths(self):
        for url in (
            "https://gitlab.com/Group/Sub/Project.git",
            "git@gitlab.com:group/sub/project.git",
            "https://gitlab.com/group/sub/project/-/tree/main",
        ):
            result = asset(url)
            assert result.identifier == "gitlab.com/group/sub/project"
            assert result.name == "group/sub/project"
            assert result.provider is Provider.GITLAB

    def test_self_hosted_gitlab_is_gitlab(self):
        result = asset("https://gitlab.example.com/Team/App.git")
        assert result.identifier == "gitlab.example.com/team/app"
        assert result.provider is Provider.GITLAB

    def test_github_enterprise_is_github(self):
        assert asset("github.mycompany.com/team/project").provider is Provider.GITHUB

    def test_bitbucket_repositories(self):
        result = asset("https://user@bitbucket.org/Workspace/Repo.git")
        assert result.identifier == "bitbucket.org/workspace/repo"
        assert result.provider is Provider.BITBUCKET
        assert (
            asset("git@bitbucket.org:workspace/repo.git").identifier
            == "bitbucket.org/workspace/repo"
        )

    def test_other_git_hosts_keep_the_case_of_their_paths(self):
        result = asset("https://token@Git.Corp.com:8443/Team/App.git")
        assert result == NormalizedAsset(T.REPOSITORY, "git.corp.com/Team/App", "Team/App", None)

    def test_a_plain_web_page_on_an_unknown_host_is_not_a_repository(self):
        assert asset("https://example.com/team/app").type is T.WEBSITE

    def test_the_repository_type_accepts_any_host_path(self):
        result = asset("https://example.com/team/app", "repository")
        assert result.identifier == "example.com/team/app"

    def test_a_repository_url_without_owner_and_name_is_rejected(self):
        with pytest.raises(InvalidAssetIdentifier):
            asset("https://github.com/org", "repository")

    @pytest.mark.parametrize(
        ("path", "identifier", "name"),
        [
            ("/src/app", "/src/app", "app"),
            ("/src/app/", "/src/app", "app"),
            (".", ".", "."),
            ("C:\\code\\app", "C:/code/app", "app"),
        ],
    )
    def test_local_paths_are_repositories_only_when_the_caller_says_so(
        self, path, identifier, name
    ):
        assert asset(path, "repository") == NormalizedAsset(T.REPOSITORY, identifier, name, None)
        assert asset(path).type is T.OTHER


class TestAws:
    @pytest.mark.parametrize(
        ("arn", "identifier"),
        [
            ("arn:aws:s3:::my-bucket", "arn:aws:s3:::my-bucket"),
            ("ARN:AWS:IAM::123456789012:role/Admin", "arn:aws:iam::123456789012:role/Admin"),
            (
                "arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-0abc",
                "arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-0abc",
            ),
            (
                "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:fn",
                "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:fn",
            ),
        ],
    )
    def test_arns_in_every_partition_are_aws(self, arn, identifier):
        result = asset(arn)
        assert result.identifier == identifier
        assert result.provider is Provider.AWS

    def test_an_account_root_arn_is_a_cloud_account_and_other_arns_are_other(self):
        assert asset("arn:aws:iam::123456789012:root").type is T.CLOUD_ACCOUNT
        assert asset("arn:aws:s3:::my-bucket").type is T.OTHER
        assert asset("arn:aws:s3:::my-bucket", "storage").type is T.STORAGE

    def test_a_bare_twelve_digit_account_is_a_cloud_account(self):
        result = asset("123456789012")
        assert result == NormalizedAsset(
            T.CLOUD_ACCOUNT, "123456789012", "123456789012", Provider.AWS
        )

    @pytest.mark.parametrize(
        "bad", ["arn:aws", "arn:aws:s3:::", "arn:gcp:s3:::bucket", "arn:aws::::x"]
    )
    def test_a_malformed_arn_is_rejected(self, bad):
        with pytest.raises(InvalidAssetIdentifier):
            asset(bad)


class TestGcp:
    @pytest.mark.parametrize(
        "value",
        [
            "projects/my-project",
            "//cloudresourcemanager.googleapis.com/projects/my-project",
            "gcp:my-project",
            "gcp://my-project",
            "gcp:projects/My-Project",
        ],
    )
    def test_project_spellings_are_one_cloud_account(self, value):
        result = asset(value)
        assert result == NormalizedAsset(
            T.CLOUD_ACCOUNT, "projects/my-project", "my-project", Provider.GCP
        )

    def test_other_google_resource_names_are_gcp(self):
        name = "//compute.googleapis.com/projects/p/zones/z/instances/vm-1"
        result = asset(name)
        assert (result.type, result.identifier, result.provider) == (T.OTHER, name, Provider.GCP)
        assert asset(name, "compute").type is T.COMPUTE


class TestAzure:
    def test_a_subscription_path_is_a_cloud_account(self):
        result = asset(f"/subscriptions/{GUID.upper()}/")
        assert result == NormalizedAsset(
            T.CLOUD_ACCOUNT, f"/subscriptions/{GUID}", GUID, Provider.AZURE
        )

    def test_resource_ids_are_lower_cased_because_arm_ignores_case(self):
        result = asset(f"/subscriptions/{GUID}/resourceGroups/RG/providers/Microsoft.Web/sites/App")
        assert (
            result.identifier
            == f"/subscriptions/{GUID}/resourcegroups/rg/providers/microsoft.web/sites/app"
        )
        assert (result.type, result.name, result.provider) == (T.OTHER, "app", Provider.AZURE)

    def test_a_bare_guid_is_a_subscription_only_for_cloud_accounts(self):
        assert asset(GUID, "cloud_account").identifier == f"/subscriptions/{GUID}"
        assert asset(GUID, "cloud_account").provider is Provider.AZURE
        assert asset(GUID).provider is None
        assert asset(f"azure:{GUID}").type is T.CLOUD_ACCOUNT


class TestContainerImages:
    @pytest.mark.parametrize(
        ("image", "identifier", "name"),
        [
            ("nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
            ("library/nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
            ("docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
            ("index.docker.io/nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
            (
                "registry-1.docker.io/library/nginx:1.25",
                "docker.io/library/nginx:1.25",
                "nginx:1.25",
            ),
            ("bitnami/redis:7", "docker.io/bitnami/redis:7", "bitnami/redis:7"),
            ("docker.io/library/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
            (f"nginx@{DIGEST}", f"docker.io/library/nginx@{DIGEST}", f"nginx@{DIGEST}"),
            (
                f"nginx:1.25@{DIGEST.upper()}",
                f"docker.io/library/nginx:1.25@{DIGEST}",
                f"nginx:1.25@{DIGEST}",
            ),
        ],
    )
    def test_docker_hub_short_names_are_spelled_out(self, image, identifier, name):
        assert asset(image) == NormalizedAsset(T.CONTAINER, identifier, name, Provider.DOCKER_HUB)

    @pytest.mark.parametrize(
        ("image", "provider"),
        [
            ("ghcr.io/Org/App:1.0", Provider.GITHUB),
            ("quay.io/org/app:1", Provider.QUAY),
            ("gcr.io/project/app:1", Provider.GCP),
            ("eu.gcr.io/project/app:1", Provider.GCP),
            ("europe-west1-docker.pkg.dev/project/repo/app:1", Provider.GCP),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1", Provider.AWS),
            ("public.ecr.aws/org/app:1", Provider.AWS),
            ("myregistry.azurecr.io/app:1", Provider.AZURE),
            ("registry.gitlab.com/group/app:1", Provider.GITLAB),
            ("registry.example.com:5000/team/app:1", Provider.OTHER_REGISTRY),
        ],
    )
    def test_registries_are_attributed_to_their_provider(self, image, provider):
        result = asset(image)
        assert (result.type, result.provider) == (T.CONTAINER, provider)
        assert result.identifier == result.name == image.lower()

    def test_a_known_registry_without_a_tag_means_latest(self):
        assert asset("quay.io/org/app").identifier == "quay.io/org/app:latest"

    def test_a_bare_word_is_not_taken_for_an_image_unless_the_caller_says_so(self):
        assert asset("nginx").type is T.OTHER
        assert asset("nginx", "container").identifier == "docker.io/library/nginx:latest"

    def test_a_host_and_port_is_not_an_image(self):
        assert asset("example.com:8080").type is T.OTHER

    def test_a_container_registry_is_its_host_and_namespace(self):
        result = asset("https://GHCR.io/Org/", "container_registry")
        assert result == NormalizedAsset(
            T.CONTAINER_REGISTRY, "ghcr.io/org", "ghcr.io/org", Provider.GITHUB
        )


class TestNetworkNames:
    def test_domains_are_lower_case_without_the_final_dot(self):
        assert asset("WWW.Example.COM.") == NormalizedAsset(
            T.DOMAIN, "www.example.com", "www.example.com", None
        )

    def test_international_domains_become_punycode(self):
        assert asset("Bücher.de").identifier == "xn--bcher-kva.de"

    def test_the_caller_may_say_subdomain(self):
        assert asset("API.example.com", "subdomain").type is T.SUBDOMAIN

    def test_a_declared_domain_given_as_url_keeps_only_the_host(self):
        assert asset("https://Example.com/login", "domain").identifier == "example.com"

    def test_a_declared_domain_that_is_not_one_is_rejected(self):
        with pytest.raises(InvalidAssetIdentifier):
            asset("not a domain", "domain")

    @pytest.mark.parametrize(
        ("value", "identifier"),
        [
            ("10.0.0.1", "10.0.0.1"),
            ("2001:DB8:0:0::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("::FFFF:10.0.0.1", "::ffff:a00:1"),
        ],
    )
    def test_ip_addresses_take_their_canonical_form(self, value, identifier):
        assert asset(value) == NormalizedAsset(T.IP_ADDRESS, identifier, identifier, None)

    @pytest.mark.parametrize(
        ("value", "identifier"),
        [
            ("10.0.0.7/8", "10.0.0.0/8"),
            ("2001:DB8::1/32", "2001:db8::/32"),
            ("192.168.1.0/24", "192.168.1.0/24"),
        ],
    )
    def test_cidrs_are_networks_with_host_bits_cleared(self, value, identifier):
        assert asset(value) == NormalizedAsset(T.NETWORK, identifier, identifier, None)

    def test_a_cidr_may_be_declared_a_subnet(self):
        assert asset("10.1.2.3/24", "subnet").identifier == "10.1.2.0/24"

    def test_a_declared_ip_address_must_be_one(self):
        with pytest.raises(InvalidAssetIdentifier):
            asset("10.0.0.0/8", "ip_address")
        with pytest.raises(InvalidAssetIdentifier):
            asset("10.0.0.256", "ip")

    def test_websites_drop_credentials_default_port_and_fragment(self):
        result = asset("HTTPS://user:pw@Example.COM:443/Login?next=/#top")
        assert result == NormalizedAsset(
            T.WEBSITE, "https://example.com/Login?next=/", "example.com", None
        )

    def test_websites_keep_a_non_default_port(self):
        assert asset("http://example.com:8080/").identifier == "http://example.com:8080"

    @pytest.mark.parametrize("url", ["https://example.com:99999/", "http://[::1/", "https://[zz]/"])
    def test_an_unparseable_url_is_rejected(self, url):
        with pytest.raises(InvalidAssetIdentifier):
            asset(url)
        assert detect_provider(url) is None


class TestNamesAndErrors:
    def test_a_given_name_wins_over_the_default(self):
        assert (
            normalize_asset("github.com/org/repo", name="  My Repository ").name == "My Repository"
        )

    def test_a_blank_name_falls_back_to_the_default(self):
        assert normalize_asset("github.com/org/repo", name="  ").name == "org/repo"

    @pytest.mark.parametrize("value", ["", "   ", "\t\n", None])
    def test_empty_identifiers_are_rejected(self, value):
        with pytest.raises(InvalidAssetIdentifier):
            normalize_asset(value)  # type: ignore[arg-type]

    def test_control_characters_are_rejected(self):
        with pytest.raises(InvalidAssetIdentifier):
            normalize_asset("github.com/org/repo\x00")

    def test_an_unknown_asset_type_is_rejected(self):
        with pytest.raises(InvalidAssetIdentifier):
            normalize_asset("example.com", "spaceship")

    def test_the_error_is_a_value_error(self):
        assert issubclass(InvalidAssetIdentifier, ValueError)

    def test_very_long_identifiers_are_rejected(self):
        with pytest.raises(InvalidAssetIdentifier):
            normalize_asset("a" * 2000)

    def test_anything_else_is_other_and_kept_as_given(self):
        assert asset("scan:semgrep:42") == NormalizedAsset(
            T.OTHER, "scan:semgrep:42", "scan:semgrep:42", None
        )

    def test_credentials_are_stripped_even_from_unknown_urls(self):
        assert (
            asset("ftp://user:secret@files.example.com/x").identifier == "ftp://files.example.com/x"
        )

    def test_a_given_type_is_kept_and_still_normalised(self):
        result = asset("WEB.Example.com", "web")
        assert (result.type, result.identifier) == (T.WEB_APPLICATION, "web.example.com")

    def test_the_result_is_an_immutable_value(self):
        result = asset("example.com")
        with pytest.raises(AttributeError):
            result.identifier = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("identifier", "provider"),
    [
        ("https://github.com/org/repo", Provider.GITHUB),
        ("ghcr.io/org/app:1", Provider.GITHUB),
        ("https://gitlab.com/g/p", Provider.GITLAB),
        ("https://gitlab.internal.example/g/p", Provider.GITLAB),
        ("https://bitbucket.org/w/r", Provider.BITBUCKET),
        ("https://dev.azure.com/o/p/_git/r", Provider.AZURE_DEVOPS),
        ("arn:aws:s3:::bucket", Provider.AWS),
        ("123456789012", Provider.AWS),
        ("projects/my-project", Provider.GCP),
        ("gcr.io/p/app:1", Provider.GCP),
        (f"/subscriptions/{GUID}", Provider.AZURE),
        ("acr1.azurecr.io/app:1", Provider.AZURE),
        ("nginx:1.25", Provider.DOCKER_HUB),
        ("quay.io/org/app:1", Provider.QUAY),
        ("registry.example.com/team/app:1", Provider.OTHER_REGISTRY),
        ("example.com", None),
        ("10.0.0.1", None),
        ("", None),
        ("arn:broken", None),
    ],
)
def test_detect_provider_names_who_hosts_the_asset(identifier, provider):
    assert detect_provider(identifier) is provider
