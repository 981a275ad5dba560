"""The bad-input table of docs/reliability.md: each row of tests/test_bad_inputs.py run, with its error line.

    python scripts/table_bad_inputs.py > /tmp/table.md
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_bad_inputs import BAD, TINY, prepare_case  # noqa: E402

from deep_smfg import cli  # noqa: E402


def main() -> None:
    os.environ["WANDB_MODE"] = "disabled"
    base = Path(tempfile.mkdtemp(prefix="deep_smfg_bad_"))
    finished = base / "finished"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(["train", *TINY, f"run_dir={finished}"]) == 0
    print("| # | command | exit | error line |\n| --- | --- | --- | --- |")
    for i, (args, _) in enumerate(BAD):
        case = base / f"case{i}"
        case.mkdir()
        argv, _, _ = prepare_case(case, finished, args)
        shown = " ".join(a for a in args if a not in TINY)
        err = io.StringIO()
        os.chdir(case)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = cli.main(argv)
        line = next((x for x in err.getvalue().splitlines() if x.startswith("error: ")), "")
        line = line.replace(str(case), "…").replace("|", "\\|")
        if len(line) > 220:
            line = line[:110] + " … " + line[-110:]
        print(f"| {i + 1} | `deep-smfg {shown}` | {code} | {line} |")


if __name__ == "__main__":
    main()
