"""JUnit XML -> the per-test map, for test commands that only leave a JUnit file.

    python r2e_junit_report.py JUNIT.xml OUT.json [--root DIR]

Ids are rebuilt pytest-style (`tests/test_x.py::TestA::test_b[param]`) from each testcase's `file`
attribute when present, else from its dotted classname resolved against the files under --root.
Also imported by the host (installers.test_results), so there is one reading of JUnit.
"""

import json
import os
import sys
import xml.etree.ElementTree as ET

PASSED, FAILED, ERROR, SKIPPED, XFAIL = "PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL"


def junit_tests(xml_text, root=None):
    """{test id: status} of every <testcase> in a JUnit document."""
    tree = ET.fromstring(xml_text)
    tests = {}
    for case in tree.iter("testcase"):
        test_id = case_id(case.get("classname") or "", case.get("name") or "", case.get("file"), root)
        status = case_status(case)
        if tests.get(test_id) in (FAILED, ERROR) and status not in (FAILED, ERROR):
            continue  # one test reported twice: a failure is not undone by another entry
        tests[test_id] = status
    return tests


def case_status(case):
    tags = dict((child.tag, child) for child in case)
    if "failure" in tags:
        return FAILED
    if "error" in tags:
        return ERROR
    if "skipped" in tags:
        return XFAIL if (tags["skipped"].get("type") or "") == "pytest.xfail" else SKIPPED
    return PASSED


def case_id(classname, name, file_attr=None, root=None):
    if not classname:  # pytest's collection error: the module's dotted name, no class
        return _module_file(name.split("."), root) or name
    parts = classname.split(".")
    if file_attr:
        file_attr = file_attr.replace(os.sep, "/")
        module_parts = file_attr[:-3].split("/") if file_attr.endswith(".py") else []
        if module_parts and parts[:len(module_parts)] == module_parts:
            return "::".join([file_attr] + parts[len(module_parts):] + [name])
    for cut in range(len(parts), 0, -1):
        path = _module_file(parts[:cut], root)
        if path:
            return "::".join([path] + parts[cut:] + [name])
    # no files to look at: class names are capitalised, module names are not
    cut = next((i for i, p in enumerate(parts) if p[:1].isupper()), len(parts))
    if cut == 0:
        return "::".join(parts + [name])
    return "::".join(["/".join(parts[:cut]) + ".py"] + parts[cut:] + [name])


def _module_file(parts, root):
    if root is None or not parts:
        return None
    for base in (root, os.path.join(root, "src")):
        candidate = os.path.join(base, *parts) + ".py"
        if os.path.isfile(candidate):
            return os.path.relpath(candidate, root).replace(os.sep, "/")
    return None


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    root = None
    if "--root" in args:
        i = args.index("--root")
        root = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        sys.stderr.write("usage: r2e_junit_report.py JUNIT.xml OUT.json [--root DIR]\n")
        return 2
    with open(args[0]) as fh:
        tests = junit_tests(fh.read(), root)
    tmp = args[1] + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"runner": "junit", "complete": True, "tests": tests, "reasons": {}, "aliases": {}}, fh,
                  indent=0, sort_keys=True)
    os.replace(tmp, args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
