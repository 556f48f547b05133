"""Run the HSSM-facing tests against the newest hssm release that pyproject.toml's pin allows.

A fresh install already resolves to it; this makes sure (pip may keep an older one when other
pins conflict), upgrading in place and rerunning the HSSM-facing tests if a newer one exists."""

import json
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

root = Path(__file__).resolve().parents[1]
pin = next(Requirement(d) for d in tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
           if Requirement(d).name.lower() == "hssm")
out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "hssm", "--json"], capture_output=True, text=True)
try:
    available = [Version(v) for v in json.loads(out.stdout)["versions"]]
except (ValueError, KeyError):
    print(f"could not list hssm releases ({out.stderr.strip()[:200]}); installed hssm {version('hssm')}")
    sys.exit(0)
allowed = sorted(v for v in available if pin.specifier.contains(v))
installed = Version(version("hssm"))
print(f"hssm: pin {pin.specifier}, newest allowed {allowed[-1] if allowed else 'none'}, installed {installed}")
if not allowed or installed >= allowed[-1]:
    sys.exit(0)
subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"hssm=={allowed[-1]}"], check=True)
tests = ["tests/unit/test_register.py", "tests/unit/test_hssm_kwargs.py", "tests/unit/test_faults.py",
         "tests/integration/test_sampling.py", "tests/integration/test_lapse.py"]
sys.exit(subprocess.run([sys.executable, "-m", "pytest", "-q", *tests], cwd=root).returncode)
