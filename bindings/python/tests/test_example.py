"""The sine example runs end to end (a few episodes) and prints its MSEs."""
import os
import subprocess
import sys

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "sine.py")


def test_sine_example_runs(tmp_path):
    ckpt = tmp_path / "sine.ckpt"
    r = subprocess.run([sys.executable, EXAMPLE, "--width", "8", "--episodes", "3",
                        "--eval-runs", "2", "--save", str(ckpt)],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0].startswith("eval_mse_untrained ") and lines[1].startswith("eval_mse ")
    assert float(lines[1].split()[1]) > 0 and ckpt.exists()
