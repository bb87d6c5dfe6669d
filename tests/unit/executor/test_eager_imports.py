"""Modules stage threads need are imported before any thread starts.

A ``from mason.tarfs.extract import …`` inside a function, run at once by two stage threads,
could see the module half initialised ("cannot import name … most likely due to a circular
import"): those imports live at module level.
"""

import ast
import subprocess
import sys
from pathlib import Path

import mason.executor.executor

EXECUTOR = Path(mason.executor.executor.__file__).parent
RACED = ("mason.tarfs.extract",)


def test_no_function_level_import_of_raced_modules():
    found = []
    for path in sorted(EXECUTOR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and inner.module in RACED:
                        found.append(f"{path.name}:{inner.lineno}")
    assert not found, f"imported inside functions: {found}"


def test_executor_import_loads_extract_eagerly():
    code = "import sys, mason.executor.executor; assert 'mason.tarfs.extract' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
