"""The OpenAPI schema describes the whole API, truthfully, and its docs work offline."""

from __future__ import annotations

import contextlib
import re
import uuid
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from tempfile import TemporaryDirectory

import jsonschema
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import TestCase
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from agents.queue import command_enqueue
from tests.factories import MembershipFactory, TenantFactory

API_PREFIX = "/api/v1/"
METHODS = ("get", "post", "put", "patch", "delete")
# POSTs that change state with no body: the command id in the path says it all.
BODYLESS = {
    ("post", "/api/v1/agent/commands/{command_id}/ack"),
    ("post", "/api/v1/agent/commands/{command_id}/acknowledge"),
    ("post", "/api/v1/agent/commands/{command_id}/start"),
    ("post", "/api/v1/scans/{scan_id}/trigger"),
    ("post", "/api/v1/scans/{scan_id}/pause"),
    ("post", "/api/v1/scans/{scan_id}/activate"),
    ("post", "/api/v1/scans/{scan_id}/disable"),
    ("post", "/api/v1/scan-sessions/{session_id}/stop"),
    ("post", "/api/v1/scan-sessions/{session_id}/retry"),
}


def generate_schema() -> dict:
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    GENERATOR_STATS.reset()
    return schema


def openapi_path(route: str) -> str:
    """`agents/<str:agent_id>` (or a regex route) as the schema spells it: `agents/{agent_id}`."""
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    return "/" + route.replace("^", "").replace("$", "").replace("\\", "")


def url_routes() -> dict[str, object]:
    """Every route of the URLconf under /api/v1/, with its view."""
    routes: dict[str, object] = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                routes[openapi_path(prefix + str(pattern.pattern))] = pattern.callback

    walk(get_resolver().url_patterns, "")
    return {path: view for path, view in routes.items() if path.startswith(API_PREFIX)}


def view_methods(view) -> set[str]:
    view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
    if view_class is None:
        return set()
    return {m for m in METHODS if m in view_class.http_method_names and hasattr(view_class, m)}


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def as_json_schema(node):
    """An OpenAPI 3.0 schema object as JSON Schema (draft 4): `nullable` becomes a null
    alternative; everything else (readOnly, format, $ref to components) carries over."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def schema_validator(schema: dict, node: dict) -> jsonschema.Draft4Validator:
    root = {
        "allOf": [as_json_schema(node)],
        "components": {"schemas": as_json_schema(schema["components"]["schemas"])},
    }
    return jsonschema.Draft4Validator(root)


def resolved(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


class SchemaGeneration(TestCase):
    def test_the_schema_generates_and_validates_with_no_errors_or_warnings(self):
        GENERATOR_STATS.reset()
        stderr = StringIO()
        with TemporaryDirectory() as tmp, contextlib.redirect_stderr(stderr):
            try:
                call_command(
                    "spectacular",
                    "--validate",
                    "--fail-on-warn",
                    "--file",
                    str(Path(tmp) / "schema.yaml"),
                )
            except Exception as exc:  # SchemaGenerationError or SchemaValidationError
                self.fail(f"{exc}\n{stderr.getvalue()}")
            finally:
                GENERATOR_STATS.reset()

    def test_every_api_route_and_method_is_in_the_schema(self):
        schema = generate_schema()
        routes = url_routes()
        self.assertTrue(routes, "no route under /api/v1/: the walk is broken")
        for path, view in routes.items():
            with self.subTest(path=path):
                self.assertTrue(path in schema["paths"], f"{path} is not in the schema")
                documented = {m for m in METHODS if m in schema["paths"][path]}
                self.assertLessEqual(view_methods(view), documented)

    def test_the_schema_documents_no_path_the_urlconf_lacks(self):
        schema = generate_schema()
        api_paths = {p for p in schema["paths"] if p.startswith(API_PREFIX)}
        self.assertEqual(api_paths - set(url_routes()), set())

    def test_operation_ids_are_unique_and_chosen(self):
        ids = [op["operationId"] for _, _, op in operations(generate_schema())]
        self.assertEqual(len(ids), len(set(ids)))
        # drf-spectacular appends _2, _3… when two operations collide.
        self.assertEqual([i for i in ids if re.search(r"_\d+$", i)], [])


def body_media(body: dict) -> str:
    """JSON for most operations; multipart for file uploads."""
    content = body["content"]
    return "application/json" if "application/json" in content else next(iter(content))


class Operations(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.schema = generate_schema()

    def test_every_operation_that_takes_a_body_documents_it(self):
        for method, path, op in operations(self.schema):
            with self.subTest(operation=op["operationId"]):
                body = op.get("requestBody")
                if method in ("get", "delete") or (method, path) in BODYLESS:
                    self.assertIsNone(body)
                    continue
                self.assertIsNotNone(body, f"{method.upper()} {path} has no request body")
                media = body_media(body)
                self.assertIn(media, ("application/json", "multipart/form-data"))
                self.assertIn("schema", body["content"][media])

    def test_each_request_body_documents_its_own_views_fields(self):
        for _, path, op in operations(self.schema):
            if "requestBody" not in op:
                continue
            view = resolve(re.sub(r"\{\w+\}", str(uuid.UUID(int=1)), path)).func
            inputs = getattr(getattr(view, "cls", None), "InputSerializer", None)
            if inputs is None:
                continue
            with self.subTest(operation=op["operationId"]):
                body = op["requestBody"]
                node = body["content"][body_media(body)]["schema"]
                documented = set(resolved(self.schema, node).get("properties", {}))
                self.assertEqual(documented, set(inputs().fields))

    def test_every_operation_documents_a_successful_reply(self):
        for _, _, op in operations(self.schema):
            with self.subTest(operation=op["operationId"]):
                success = {c: r for c, r in op["responses"].items() if c.startswith("2")}
                self.assertTrue(success, "no 2xx reply")
                for code, reply in success.items():
                    if code == "204":
                        self.assertNotIn("content", reply)
                    else:
                        media = reply.get("content", {}).get("application/json", {})
                        self.assertIn("schema", media, f"{code} reply without a schema")

    def test_every_operation_documents_its_error_replies_with_the_error_envelope(self):
        envelope = {"$ref": "#/components/schemas/Error"}
        for _, path, op in operations(self.schema):
            with self.subTest(operation=op["operationId"]):
                expected = {"401", "403"}
                if "requestBody" in op:
                    expected |= {"400", "413", "415"}
                if "{" in path:
                    expected.add("404")
                self.assertLessEqual(expected, set(op["responses"]))
                for code, reply in op["responses"].items():
                    if code.startswith("4"):
                        self.assertEqual(reply["content"]["application/json"]["schema"], envelope)

    def test_every_agent_protocol_operation_has_an_example(self):
        agent_ops = [
            op for _, _, op in operations(self.schema) if op["operationId"].startswith("agent_")
        ]
        self.assertTrue(agent_ops)
        for op in agent_ops:
            with self.subTest(operation=op["operationId"]):
                contents = [*op.get("requestBody", {}).get("content", {}).values()]
                for reply in op["responses"].values():
                    contents += reply.get("content", {}).values()
                examples = [c for c in contents if c.get("examples") or c.get("example")]
                self.assertTrue(examples, "no request or reply example")

    def test_examples_match_their_schemas(self):
        for _, _, op in operations(self.schema):
            contents = [("request", op.get("requestBody", {}).get("content", {}))]
            contents += [
                (code, reply.get("content", {})) for code, reply in op["responses"].items()
            ]
            for where, content in contents:
                media = content.get("application/json", {})
                for name, example in media.get("examples", {}).items():
                    with self.subTest(operation=op["operationId"], where=where, example=name):
                        validator = schema_validator(self.schema, media["schema"])
                        errors = [e.message for e in validator.iter_errors(example["value"])]
                        self.assertEqual(errors, [])

    def test_every_operation_documents_how_to_authenticate(self):
        schemes = self.schema["components"].get("securitySchemes", {})
        for _, _, op in operations(self.schema):
            with self.subTest(operation=op["operationId"]):
                names = {name for requirement in op.get("security", []) for name in requirement}
                self.assertTrue(names, "documented as open to anonymous callers")
                self.assertLessEqual(names, set(schemes))
                # Agents and scripts both send `Authorization: Bearer …`.
                bearer = [
                    n
                    for n in names
                    if schemes[n].get("type") == "http" and schemes[n].get("scheme") == "bearer"
                ]
                self.assertTrue(bearer, f"no bearer scheme among {sorted(names)}")


class DocumentedRepliesMatchTheApi(TestCase):
    """Drive each operation once and check its reply against the schema."""

    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")
        cls.owner = MembershipFactory(tenant=cls.tenant, role="owner").user

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.schema = generate_schema()

    def check(self, response, method: str, path: str):
        op = self.schema["paths"][path][method]
        with self.subTest(operation=op["operationId"], status=response.status_code):
            self.assertLess(response.status_code, 300, response.content)
            documented = op["responses"]
            self.assertIn(str(response.status_code), documented)
            content = documented[str(response.status_code)].get("content")
            if content is None:
                self.assertEqual(response.content, b"")
            else:
                node = content["application/json"]["schema"]
                errors = [
                    f"{list(e.absolute_path)}: {e.message}"
                    for e in schema_validator(self.schema, node).iter_errors(response.json())
                ]
                self.assertEqual(errors, [])
        return response

    def test_management_replies_match_the_schema(self):
        api = APIClient()
        api.force_login(self.owner)
        agents = "/api/v1/agents"
        agent = agents + "/{agent_id}"
        keys = agent + "/keys"
        created = self.check(
            api.post(agents, {"name": "w", "labels": {"a": "b"}}, format="json"), "post", agents
        ).json()
        url = agent.format(agent_id=created["id"])
        self.check(api.get(agents, {"limit": 10}), "get", agents)
        self.check(api.get(url), "get", agent)
        self.check(api.put(url, {"name": "w2"}, format="json"), "put", agent)
        self.check(api.patch(url, {"description": "d"}, format="json"), "patch", agent)
        self.check(api.get(url + "/keys"), "get", keys)
        issued = self.check(api.post(url + "/keys", {"name": "n"}, format="json"), "post", keys)
        key_url = f"{url}/keys/{issued.json()['key']['id']}"
        self.check(api.delete(key_url), "delete", keys + "/{key_id}")
        self.check(api.delete(url), "delete", agent)

    def test_error_replies_match_the_error_envelope(self):
        api = APIClient()
        api.force_login(self.owner)
        validator = schema_validator(self.schema, {"$ref": "#/components/schemas/Error"})
        replies = [
            api.get("/api/v1/agents/no-such-agent"),  # 404
            api.post("/api/v1/agents", {"name": ""}, format="json"),  # 400
            api.post("/api/v1/agents", "x", content_type="text/plain"),  # 415
            APIClient().get("/api/v1/scans"),  # no credentials
            APIClient(HTTP_AUTHORIZATION="Bearer rdv_unknown").get("/api/v1/agent/commands"),
        ]
        for response in replies:
            with self.subTest(status=response.status_code):
                self.assertGreaterEqual(response.status_code, 400)
                errors = [e.message for e in validator.iter_errors(response.json())]
                self.assertEqual(errors, [])

    def test_agent_protocol_replies_match_the_schema(self):
        api = APIClient()
        api.force_login(self.owner)
        key = api.post("/api/v1/agents", {"name": "w"}, format="json").json()["api_key"]
        agent_api = APIClient()
        agent_api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        command = "/api/v1/agent/commands/{command_id}"
        self.check(
            agent_api.post("/api/v1/agent/heartbeat", {"status": "running"}, format="json"),
            "post",
            "/api/v1/agent/heartbeat",
        )
        for _ in range(2):
            command_enqueue(tenant=self.tenant, type="scan", payload={"scanner": "semgrep"})
        polled = self.check(
            agent_api.get("/api/v1/agent/commands", {"limit": 5}), "get", "/api/v1/agent/commands"
        ).json()
        self.assertEqual(len(polled), 2)
        done, failed = (command.format(command_id=c["id"]) for c in polled)
        steps = [
            (done, "ack", {}),
            (done, "acknowledge", {}),
            (done, "start", {}),
            (done, "progress", {"percent": 40, "message": "half"}),
            (done, "complete", {"result": {"findings_count": 0}}),
            (failed, "fail", {"error_message": "boom"}),
        ]
        for url, action, body in steps:
            response = agent_api.post(f"{url}/{action}", body, format="json")
            self.check(response, "post", f"{command}/{action}")


INIT_SCRIPT = "/api/docs/?script="


class ServedDocs(TestCase):
    def test_the_schema_is_served(self):
        response = APIClient().get("/api/schema/")
        self.assertEqual(response.status_code, 200)
        self.assertIn("openapi", response.headers["Content-Type"])
        self.assertIn(b"/api/v1/agents", response.content)

    def test_the_swagger_ui_is_served_from_local_assets_only(self):
        response = self.client.get("/api/docs/")
        self.assertEqual(response.status_code, 200)
        page = response.content.decode()
        parser = _Assets()
        parser.feed(page)
        self.assertTrue(parser.urls)
        # Swagger UI's init script comes from the view itself, not inline (the
        # Content-Security-Policy runs no inline script); the rest are static files.
        self.assertIn(INIT_SCRIPT, parser.urls)
        for url in parser.urls:
            if url == INIT_SCRIPT:
                continue
            with self.subTest(url=url):
                self.assertFalse(url.startswith(("http://", "https://", "//")))
                self.assertTrue(url.startswith("/" + settings.STATIC_URL.lstrip("/")))
                relative = url.removeprefix("/" + settings.STATIC_URL.lstrip("/"))
                self.assertIsNotNone(finders.find(relative), f"{relative} is not a static file")
        self.assertNotIn("http://", page)
        self.assertNotIn("https://", page)

    def test_the_swagger_ui_loads_the_schema_from_this_server(self):
        script = self.client.get(INIT_SCRIPT)
        self.assertEqual(script["Content-Type"], "application/javascript")
        self.assertIn('"/api/schema/"', script.content.decode())
