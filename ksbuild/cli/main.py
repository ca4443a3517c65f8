"""`ksbuild`: doit, run from the workspace root found by walking up from the current directory."""
from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    from ksbuild.errors import ConfigError
    from ksbuild.loader.workspace import require_root

    try:
        root = require_root(os.getcwd())
    except ConfigError as err:
        sys.stderr.write(f"ksbuild: {err}\n")
        return 3
    os.chdir(root)
    from doit.doit_cmd import DoitMain

    args = sys.argv[1:] if argv is None else argv
    if os.path.isfile("dodo.py"):
        code = DoitMain().run(args)
    else:
        from doit.cmd_base import ModuleTaskLoader

        import ksbuild.dodo

        code = DoitMain(ModuleTaskLoader(vars(ksbuild.dodo))).run(args)
    if args[:1] == ["verify"] and code == 3:
        return 2  # verify's contract for CI: 2 is a usage or configuration error (doit says 3)
    return code


if __name__ == "__main__":
    sys.exit(main())
