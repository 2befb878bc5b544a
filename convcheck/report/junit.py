"""`verify --format junit`: JUnit XML as GitHub Actions, GitLab and Jenkins read it.

One <testcase> per layer (classname: the spec file, name: the layer); failing tensors, their
numbers, their diagnoses and the smallest failing layer in <failure>; a check that could not
finish (a plug-in that crashed, exited or timed out) as <error>; the coverage, and what the
plug-in printed on a failing layer, in <system-out>.
"""

import xml.etree.ElementTree as ET

from ..spec import LABELS
from .table import budget_line, coverage_lines, shown_output
from .text import diagnosis_lines, failures, inert, smallest_lines


def render(results, seconds: float, show_output: bool = False, stopped: str | None = None) -> str:
    """The XML; an interrupted run (`stopped`) adds a testcase 'interrupted' with an <error>, so
    that no reader counts the part that ran as a whole run that passed."""
    failed = sum(not r.passed and not r.error for r in results)
    errors = sum(bool(r.error) for r in results) + bool(stopped)
    skipped = sum(bool(r.skipped) for r in results)
    counts = {"tests": str(len(results) + bool(stopped)), "failures": str(failed), "errors": str(errors),
              "skipped": str(skipped), "time": f"{seconds:.3f}"}
    suites = ET.Element("testsuites", name="convcheck", **counts)
    suite = ET.SubElement(suites, "testsuite", name="convcheck verify", **counts)
    for result in results:
        spec = result.spec
        case = ET.SubElement(suite, "testcase", classname=inert(spec.source or spec.name), name=inert(spec.name),
                             time=f"{result.seconds:.3f}", file=inert(spec.source or ""), line=str(spec.line or ""))
        lines = failures(result)
        if result.skipped:
            ET.SubElement(case, "skipped", message=inert(result.skipped))
        elif result.error:
            ET.SubElement(case, "error", message=inert(result.error), type="PluginCrash").text = "\n".join(lines)
        elif lines:
            failing = [c for c in result.checks if not c.passed and not c.skipped]
            details = [f"{LABELS[c.name]}: max abs err {c.max_abs}, tolerance ratio {c.tolerance_ratio}, worst index "
                       f"{c.worst_index}" for c in failing]
            ET.SubElement(case, "failure", message=lines[0], type="GradientMismatch").text = "\n".join(
                lines + details + diagnosis_lines(result) + smallest_lines(result))
        ET.SubElement(case, "system-out").text = (f"impl {inert(result.impl)}, {spec.dtype}, method {result.method}: "
                                                  + ("; ".join(coverage_lines(result)) or "not checked")
                                                  + "".join("\n" + line for line in [budget_line(result)] if line)
                                                  + "".join("\n" + line for line in shown_output(result, show_output)))
    if stopped:
        case = ET.SubElement(suite, "testcase", classname="convcheck", name="interrupted", time="0.000")
        ET.SubElement(case, "error", message=stopped, type="Interrupted").text = stopped
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)
