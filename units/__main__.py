"""`python -m units …`: the same commands as `spire units …` (handy under torchrun).

python -m torch.distributed.run --nproc_per_node 2 -m units label --manifest m.jsonl --featurizer mfcc --kmeans km/ --out out/
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command; user errors (`UnitsError`) exit 2, as `spire` does."""
    from units import cli
    from units.cli.logs import add_verbosity_flags, configure_logging, split_verbosity
    from units.errors import UnitsError

    parser = argparse.ArgumentParser(
        prog="python -m units", description=cli.__doc__.splitlines()[0]
    )
    cli.add_arguments(parser)
    add_verbosity_flags(parser)
    verbosity, rest = split_verbosity(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(rest)
    configure_logging(verbosity + getattr(args, "verbose", 0) - getattr(args, "quiet", 0))
    try:
        return int(cli.run(args) or 0)
    except UnitsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
