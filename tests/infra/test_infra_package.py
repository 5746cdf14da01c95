"""`make package`: a deployable template, and artifacts whose handlers load on Lambda."""

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from chalice import Chalice, IAMAuthorizer

from infra.cfn import load_template
from infra.package import LAMBDA_RUNTIME_PROVIDES, ROOT, SOURCE_TEMPLATE, PackagingError, route_events, zip_sizes
from infra_support import bytecode_problems, cfn_lint_errors, functions

FUNCTIONS = sorted(functions(load_template(SOURCE_TEMPLATE)))
MB = 1024 * 1024
# Imports the handler the way Lambda does: the function's code, then the layer, then what the
# runtime provides; no site-packages, so a dependency only the dev virtualenv has fails here.
RESOLVE_HANDLER = """
import importlib, sys
task, layer, runtime, handler = sys.argv[1:]
sys.path[:0] = [task, layer, runtime]
module, _, name = handler.rpartition(".")
assert callable(getattr(importlib.import_module(module), name)), handler + " is not callable"
"""


@pytest.fixture(scope="module")
def layer_dir(build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer unzipped, as Lambda mounts it at /opt."""
    opt = tmp_path_factory.mktemp("opt")
    with zipfile.ZipFile(build / "layer.zip") as archive:
        archive.extractall(opt)
    return opt / "python"


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stand-in for the Lambda runtime's own packages: boto3 and its dependencies."""
    runtime = tmp_path_factory.mktemp("runtime")
    for module in LAMBDA_RUNTIME_PROVIDES.values():
        spec = importlib.util.find_spec(module)
        source = Path(spec.origin)
        source = source.parent if spec.submodule_search_locations else source
        (runtime / source.name).symlink_to(source)
    return runtime


def test_route_events_are_one_http_api_route_per_chalice_route():
    """Routes are written once, in app.py; the template gets them from the app."""
    # Given a Chalice app with a root route and a path parameter on two methods
    app = Chalice(app_name="fake")

    @app.route("/")
    def root():
        return {}

    @app.route("/v1/members/{member_id}", methods=["GET", "PATCH"])
    def member(member_id):
        return {}

    # When its routes become events
    events = route_events(app.routes)
    # Then each method of each path is an HttpApi event, path parameters kept as they are
    def event(path, method):
        return {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}, "Path": path,
                                                  "Method": method, "PayloadFormatVersion": "1.0"}}
    assert events == {
        "GetRoot": event("/", "GET"),
        "GetV1MembersMemberId": event("/v1/members/{member_id}", "GET"),
        "PatchV1MembersMemberId": event("/v1/members/{member_id}", "PATCH"),
    }


def test_a_route_relying_on_an_api_gateway_authorizer_is_refused():
    """The HTTP API enforces no authorizer, so packaging such a route would make it public."""
    # Given a Chalice route protected by an API Gateway authorizer
    app = Chalice(app_name="fake")

    @app.route("/v1/secret", authorizer=IAMAuthorizer())
    def secret():
        return {}

    # When it is packaged, Then packaging stops
    with pytest.raises(PackagingError, match="GET /v1/secret"):
        route_events(app.routes)


def test_built_template_passes_cfn_lint(build):
    """The generated template, routes included, is what gets deployed."""
    # Given the packaged template
    # When cfn-lint checks it
    errors = cfn_lint_errors(build / "template.yaml")
    # Then it reports no errors
    assert errors == []


def test_built_template_points_at_the_artifacts(build, built_template):
    """A deploy uploads whatever CodeUri names; it must be the file just built."""
    # Given the layer and the functions of the built template
    layer = built_template["Resources"]["DependenciesLayer"]["Properties"]["ContentUri"]
    code = [f["CodeUri"] for f in functions(built_template).values()]
    # Then each names a zip in build/
    assert all((build / uri).is_file() and uri.endswith(".zip") for uri in [layer, *code])
    assert len(set(code)) == len(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_and_layer_fit_the_size_budget(build, built_template, function):
    """Small artifacts deploy fast and start fast; Lambda's hard limits are 50/250 MB."""
    # Given the function's zip and the layer
    code = build / functions(built_template)[function]["CodeUri"]
    sizes = [zip_sizes(code), zip_sizes(build / "layer.zip")]
    # Then together they are at most 25 MB zipped and 60 MB unzipped
    assert sum(zipped for zipped, _ in sizes) <= 25 * MB
    assert sum(unzipped for _, unzipped in sizes) <= 60 * MB


def test_layer_leaves_out_what_the_runtime_provides_and_ships_bytecode(build):
    """boto3 and botocore come with the runtime; shipping them again costs ~30 MB. /opt is
    read-only, so bytecode the layer does not ship would be compiled again on every cold start."""
    # Given the top-level names in the layer
    with zipfile.ZipFile(build / "layer.zip") as archive:
        names = archive.namelist()
        problems = bytecode_problems(archive)
    top_level = {name.split("/")[1].split(".")[0].split("-")[0] for name in names}
    # Then all are under python/, none is provided by the runtime, and each module comes with
    # its CPython 3.11 bytecode (and there is no other)
    assert all(name.startswith("python/") for name in names)
    assert top_level.isdisjoint(LAMBDA_RUNTIME_PROVIDES.values())
    assert problems == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_zip_holds_its_code_and_nothing_else(build, built_template, function):
    """Tests have no place in a deployment; only the API needs the Chalice runtime; /var/task is
    read-only, so each module ships with its bytecode."""
    # Given the function's zip
    with zipfile.ZipFile(build / functions(built_template)[function]["CodeUri"]) as archive:
        names = archive.namelist()
        problems = bytecode_problems(archive)
    # Then it holds only the app's code and its bytecode, and the Chalice runtime exactly when it is the API
    assert {name.split("/")[0] for name in names} <= {"app.py", "__pycache__", "chalice", "chalicelib",
                                                      "functions"}
    assert not [name for name in names if "tests" in Path(name).parts or Path(name).name.startswith("test_")]
    assert problems == []
    chalice = sorted(name for name in names if name.startswith("chalice/") and name.endswith(".py"))
    assert chalice == (["chalice/__init__.py", "chalice/app.py"] if function == "ApiFunction" else [])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_resolves_inside_its_artifact(build, built_template, layer_dir, runtime_dir,
                                              tmp_path, function):
    """A handler that only imports thanks to the dev virtualenv would fail every invocation."""
    handler = functions(built_template)[function]["Handler"]
    module = handler.rpartition(".")[0].replace(".", "/")
    if not ((ROOT / f"{module}.py").is_file() or (ROOT / module / "__init__.py").is_file()):
        pytest.skip(f"{module}.py is not written yet")
    # Given the function's zip unzipped, as Lambda does into /var/task
    with zipfile.ZipFile(build / functions(built_template)[function]["CodeUri"]) as archive:
        archive.extractall(tmp_path)
    # When its handler is imported with nothing else on the path, in a minimal environment
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RESOLVE_HANDLER, str(tmp_path), str(layer_dir),
         str(runtime_dir), handler],
        env={"AWS_DEFAULT_REGION": "us-east-1", "LAUREL_TABLE": "t",
             "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        capture_output=True, text=True, check=False, timeout=60,
    )
    # Then it is a callable
    assert result.returncode == 0, result.stderr
