"""The README's promises: its plug-in example works, its commands are the ones CI runs."""

import re
from pathlib import Path

from convcheck import load_specs, verify

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_plugin_example_passes_every_config(tmp_path):
    section = README.split("## Plug-in contract", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    plugin = tmp_path / "my_conv.py"
    plugin.write_text(code)
    for spec in load_specs(ROOT / "configs"):
        result = verify(spec, str(plugin), method="sample", samples=32)
        assert result.passed, (spec.name, [(c.name, c.message) for c in result.checks])


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    assert any(c.endswith("convcheck verify configs/") for c in commands)
    test_command = next(c for c in commands if c.endswith("python -m pytest"))
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_spec_example_loads_and_passes(tmp_path):
    section = README.split("## Spec format", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "example.yaml"
    path.write_text(example)
    specs = load_specs(path)
    assert [s.name for s in specs] == ["stride2-leftover-rows", "same-float32", "atrous-depthwise"]
    assert specs[1].dtype == "float32" and specs[1].rtol == 1e-3 and not specs[1].bias
    assert (specs[2].dilation, specs[2].groups) == ((2, 2), 4)
    assert all(verify(spec, "direct").passed for spec in specs)
