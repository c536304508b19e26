"""az ml's arguments and output rules, without a daemon.

The Azure CLI's documented examples for these commands (the ml extension's help) parse
unchanged; ``--output`` follows knack's rules; flags that mean nothing here are one line
with exit 2; a missing resource is exit 3.
"""

from __future__ import annotations

import shlex
from collections import OrderedDict
from pathlib import Path

import pytest

from cli.main import build_parser
from cli.output import format_result
from tests.support.flightdeck_cli import run_cli

#: az ml invocations in the form of the ml extension's help examples and Azure's sample
#: scripts (azureml-examples cli/*.sh), with `az ml` taken off.
#: The workspace flags every documented example carries.
WS = "--resource-group my-resource-group --workspace-name my-workspace"
AZ_EXAMPLES = [
    "online-endpoint create --file endpoint.yml" + " " + WS,
    "online-endpoint show --name my-endpoint" + " " + WS,
    "online-endpoint list" + " " + WS,
    'online-endpoint update --name my-endpoint --traffic "my-deployment=100"' + " " + WS,
    "online-endpoint delete --name my-endpoint" + " " + WS,
    "online-endpoint get-credentials --name my-endpoint" + " " + WS,
    "online-endpoint invoke --name my-endpoint --request-file sample_request.json" + " " + WS,
    "online-endpoint regenerate-keys --name my-endpoint --key-type"
    " secondary -g my-resource-group -w my-workspace",
    "online-deployment create --file deployment.yml" + " " + WS,
    "online-deployment create --file deployment.yml --all-traffic" + " " + WS,
    "online-deployment show --name my-deployment --endpoint-name my-endpoint" + " " + WS,
    "online-deployment list --endpoint-name my-endpoint" + " " + WS,
    "online-deployment update --file deployment.yml" + " " + WS,
    "online-deployment delete --name my-deployment --endpoint-name my-endpoint" + " " + WS,
    "online-deployment get-logs --name my-deployment --endpoint-name"
    " my-endpoint --lines 100" + " " + WS,
    "model create --name my-model --version 1 --path ./my-model.pkl" + " " + WS,
    "model create --file model.yml" + " " + WS,
    "model list" + " " + WS,
    "model show --name my-model --version 1" + " " + WS,
    "online-deployment create --name blue --endpoint $E -f"
    " blue-deployment.yml --all-traffic --no-wait",
    "online-endpoint get-credentials -n E -o tsv --query primaryKey",
    "online-deployment update -n blue -e E --set instance_count=2 app_insights_enabled=true",
    "online-deployment get-logs -n blue -e E -l 50 -c storage-initializer --local",
    "online-endpoint delete -n E --yes --no-wait --subscription 0000 --only-show-errors",
]


@pytest.mark.parametrize("example", AZ_EXAMPLES)
def test_the_azure_cli_examples_parse_unchanged(example: str) -> None:
    args = build_parser().parse_args(shlex.split(example))
    assert callable(args.handler)


def test_az_prefixes_and_short_forms_mean_what_az_means() -> None:
    parser = build_parser()
    args = parser.parse_args(
        shlex.split("online-deployment create -f d.yml --name blue --endpoint ep --set a=1 b=2")
    )
    assert (args.name, args.endpoint_name, args.set) == ("blue", "ep", ["a=1", "b=2"])
    update = parser.parse_args(shlex.split('online-endpoint update -n ep -r "blue=90 green=10"'))
    assert update.traffic == "blue=90 green=10"
    assert parser.parse_args(shlex.split("online-endpoint list -o TSV")).output == "tsv"


def test_tsv_follows_knack() -> None:
    assert format_result("http://127.0.0.1:1/ep/score", "tsv") == "http://127.0.0.1:1/ep/score\n"
    assert format_result(True, "tsv") == "true\n"
    rows = [{"name": "b", "tags": {}, "count": 2, "items": [1, 2]}, {"name": "a", "count": 1}]
    assert format_result(rows, "tsv") == "2\t2\tb\t\n1\ta\n"  # count, items, name, tags
    queried = [OrderedDict([("name", "b"), ("count", 2)])]
    assert format_result(queried, "tsv", queried=True) == "b\t2\n"
    assert format_result({"blue": 90, "green": 10}, "tsv") == "90\t10\n"


def test_table_follows_knack() -> None:
    rows = [
        {"name": "ep", "id": "x", "traffic": {"blue": 100}, "auth_mode": "key", "type": "t"},
        {"name": "ep2", "auth_mode": "aml_token", "description": None},
    ]
    lines = format_result(rows, "table").splitlines()
    assert lines[0].split() == ["Auth_mode", "Name"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["key", "ep"]
    assert format_result("x", "table").splitlines()[0].strip() == "Result"


def test_other_formats() -> None:
    assert format_result({"b": 1, "a": [1]}, "json") == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'
    assert format_result({"b": 1}, "yaml") == "b: 1\n"
    assert format_result({"b": 1}, "none") == ""


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        ("online-endpoint create -f e.yml --web", "--web"),
        ("online-deployment create -f d.yml --vscode-debug", "--vscode-debug"),
        ("online-deployment create -f d.yml --local-enable-gpu true", "--local-enable-gpu"),
        ("online-deployment create -f d.yml --package-model", "--package-model"),
        ("model create -n m -v 1 -p m.onnx -d azureml://x", "-d"),
    ],
)
def test_flags_that_mean_nothing_here_are_one_line(tmp_path: Path, args: str, flag: str) -> None:
    result = run_cli(*shlex.split(args), home=tmp_path)
    assert result.code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"ERROR: {flag} is not supported by flightdeck:")
    assert "usage:" not in result.stderr
    assert result.stdout == ""


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert run_cli("online-endpoint", "show", home=tmp_path).code == 2
    assert run_cli("online-endpoint", "list", "-o", "xml", home=tmp_path).code == 2
    assert run_cli("model", "create", home=tmp_path).code == 2


def test_alias_install_never_replaces_a_real_az(tmp_path: Path) -> None:
    real = tmp_path / "az"
    real.write_text("#!/bin/sh\necho real az\n", encoding="utf-8")
    refused = run_cli("alias", "install", "--dir", str(tmp_path), home=tmp_path)
    assert "not flightdeck's shim" in refused.error_line()
    assert real.read_text(encoding="utf-8") == "#!/bin/sh\necho real az\n"
    other = tmp_path / "bin"
    run_cli("alias", "install", "--dir", str(other), home=tmp_path).ok()
    assert "az ml" in (other / "az").read_text(encoding="utf-8")
    run_cli("alias", "install", "--dir", str(other), home=tmp_path).ok()  # its own: replaced
    run_cli("alias", "uninstall", "--dir", str(other), home=tmp_path).ok()
    assert not (other / "az").exists()


def _sections(text: str) -> list[str]:
    """The headings of an az-style help text: the lines that start in column 0."""
    return [line for line in text.splitlines() if line and not line.startswith(" ")]


def test_group_help_reads_like_az(tmp_path: Path) -> None:
    result = run_cli("online-endpoint", "--help", home=tmp_path)
    assert result.code == 0
    assert _sections(result.stdout) == ["Group", "Commands:"]
    lines = result.stdout.splitlines()
    assert lines[2].startswith("    flightdeck online-endpoint : Manage Azure ML online endpoints")
    commands = lines[lines.index("Commands:") + 1 :]
    rows = {row.split(":")[0].strip(): row.split(":", 1)[1].strip() for row in commands if row}
    verbs = {"create", "update", "show", "list", "delete", "get-credentials", "regenerate-keys"}
    assert verbs | {"invoke"} <= set(rows)
    assert rows["show"] == "Show details for an endpoint."
    assert len({row.index(" : ") for row in commands if row}) == 1  # the colons line up


def test_command_help_reads_like_az(tmp_path: Path) -> None:
    result = run_cli("online-deployment", "show", "--help", home=tmp_path)
    assert result.code == 0
    text = result.stdout
    assert _sections(text) == ["Command", "Arguments", "Global Arguments", "Examples"]
    assert "    flightdeck online-deployment show : Show a deployment." in text
    arguments = text.split("\nArguments\n")[1].split("\nGlobal Arguments\n")[0]
    names = [line.split(" : ")[0].strip() for line in arguments.splitlines() if " : " in line]
    # Required first, marked as az marks them; then the rest in alphabetical order.
    assert names[:2] == ["--endpoint-name -e [Required]", "--name -n [Required]"]
    assert names[2:] == sorted(names[2:])
    global_ = text.split("\nGlobal Arguments\n")[1].split("\nExamples\n")[0]
    flags = [line.split()[0] for line in global_.splitlines() if " : " in line]
    for flag in ("--debug", "--help", "--only-show-errors", "--output", "--query", "--verbose"):
        assert flag in flags
    assert "Allowed values: json, jsonc, none, table, tsv, yaml, yamlc." in " ".join(
        global_.split()
    )
    examples = text.split("\nExamples\n")[1]
    assert "flightdeck online-deployment show --name my-deployment --endpoint-name" in examples


def test_flightdeck_s_own_commands_keep_argparse_help(tmp_path: Path) -> None:
    result = run_cli("local", "--help", home=tmp_path)
    assert result.code == 0
    assert result.stdout.startswith("usage: flightdeck local")
