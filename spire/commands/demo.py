"""`spire demo`: the miniature recipe (`spire.mini.demo`), configured from `configs/mini/`.

    spire demo                               # configs/mini/demo.yaml
    spire demo --quick                       # configs/mini/quick.yaml on top: the CI-sized run and its checks
    spire demo --out DIR it_epochs=2         # key=value overrides, as in `spire train`
    spire demo --quick --print-config        # the resolved settings, nothing run

Order: demo.yaml, quick.yaml (--quick), --config, key=value, then --out, --seed and --progress.
"""

from __future__ import annotations

import argparse
from typing import Any

from spire.mini.config import DemoConfig

__all__ = ["add_arguments", "config_from_args", "run", "settings_listing"]


def _yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def settings_listing() -> str:
    """Every demo setting with its value in `demo.yaml` (and `quick.yaml`'s where it differs)."""
    import dataclasses

    from spire.config import load_yaml
    from spire.errors import ConfigError
    from spire.mini.config import recipe_file

    try:
        full, quick = load_yaml(recipe_file("demo.yaml")), load_yaml(recipe_file("quick.yaml"))
    except ConfigError as error:
        return f"settings: unavailable ({error})"
    lines = ["settings (key=value; values from configs/mini/demo.yaml, --quick: quick.yaml; why: docs/miniature.md):"]
    for field in dataclasses.fields(DemoConfig):
        value = _yaml_value(full[field.name]) if field.name in full else "(missing in demo.yaml)"
        line = f"  {field.name}={value}"
        if field.name in quick:
            line = f"{line:<34} (--quick: {_yaml_value(quick[field.name])})"
        lines.append(line)
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`spire demo [--quick] [--out DIR] [--seed N] [--config YAML] [--progress/--no-progress] [key=value ...]`."""
    parser.epilog = settings_listing()
    parser.add_argument("--quick", action="store_true", help="the CI-sized run (quick.yaml), then check every stage")
    parser.add_argument("--out", default=None, help="output folder, sets out_dir (default: the recipe's, demo_out)")
    parser.add_argument("--seed", type=int, default=None, help="sets seed (default: the recipe's, 0)")
    parser.add_argument("--config", default=None, help="YAML file of demo settings (partial), applied after the recipe")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress bars, sets progress (default: the recipe's, true)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved settings and exit")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="demo settings (listed below), e.g. it_epochs=1 seed=3")


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    """The DemoConfig of a command line: the recipe (quick), then --config, key=value and the flags."""
    from spire.config import parse_overrides

    settings = parse_overrides(args.overrides)
    for key, value in (("out_dir", args.out), ("seed", args.seed), ("progress", args.progress)):
        if value is not None:
            settings[key] = value
    return DemoConfig.load(quick=args.quick, config=args.config, overrides=settings)


def run(args: argparse.Namespace) -> int:
    """Entry point of `spire demo`."""
    config = config_from_args(args)
    if args.print_config:
        import yaml

        from spire.config import config_to_dict

        print(yaml.safe_dump(config_to_dict(config), sort_keys=False), end="")
        return 0
    from spire.errors import SpireError
    from spire.mini.demo import check_quick, run_demo

    results = run_demo(config)
    report = results.report.read_text(encoding="utf-8") if results.report else ""
    if args.quick:
        try:
            check_quick(results, config)
        except SpireError:
            print(report, end="", flush=True)
            raise
        print("quick demo: all checks passed\n", flush=True)
    print(report, end="", flush=True)  # ends with where the model is and how to call it
    return 0
