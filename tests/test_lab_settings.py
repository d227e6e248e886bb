"""JupyterLab is set up for the course: `make setup` installs jupyter/overrides.json into the environment, and
the settings it overrides exist in this JupyterLab with the values it gives them (no Jupyter-news pop-up)."""
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OVERRIDES = json.loads((REPO / "jupyter" / "overrides.json").read_text())
SCHEMAS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"


def test_every_override_is_a_setting_of_this_jupyterlab_with_an_allowed_value():
    for plugin, values in OVERRIDES.items():
        package, name = plugin.rsplit(":", 1)
        schema = json.loads((SCHEMAS / package / f"{name}.json").read_text())
        for key, value in values.items():
            prop = schema["properties"][key]
            allowed = [c["const"] for c in prop.get("oneOf", [])] or [value]
            assert value in allowed and isinstance(value, {"string": str, "boolean": bool}[prop["type"]]), key


def test_the_news_pop_up_is_off_and_make_setup_installed_it():
    assert OVERRIDES["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    installed = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(installed.read_text()) == OVERRIDES, "run `make setup`: it installs jupyter/overrides.json"


def test_nbgraders_menus_are_installed_in_jupyterlab():
    import subprocess

    listed = subprocess.run([str(Path(sys.executable).with_name("jupyter")), "labextension", "list"],
                            capture_output=True, text=True, check=True)
    lines = (listed.stdout + listed.stderr).splitlines()
    assert any("nbgrader" in line and "enabled" in line for line in lines), "\n".join(lines)
