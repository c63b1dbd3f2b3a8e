"""An ablation's report from what its root holds so far, without running anything.

A finished ablation writes docs/results.md itself. While it still runs (or after a sitting was
killed), this copies the root, reads the settings the root was started with from its
``config.json``, collects the table, the curves and whatever re-scores ``trainings.jsonl``
already holds, and writes the same markdown to ``--out``. It also prints BN-ReLU's seed std per
search seed (the sample std over the re-scoring seeds of its mean over the anchors, the spread
the targets are read against). Cells whose trainings are not done
yet stay short. Nothing under the root is touched, so it is safe beside a live ablation.

    .venv/bin/python bench/ablation_interim.py results/ablation/ablation-E --budget 600 \
        --seeds 3 --arms random improved --out /tmp/E.md
"""

import argparse
import shutil
import tempfile
from pathlib import Path

from evonorm.evolve.ablation import AblationConfig, collect, config_from, stored_settings
from evonorm.proxy.presets import get_preset
from evonorm.tracking.ablation import write_results

_TUPLES = ("held_out", "baselines", "warm_layers")


def stored_config(root: Path, **growing) -> AblationConfig:
    """The config ``root`` was started with (read as the ablation's own resume check reads
    it), with the budget, seeds and arms given."""
    stored = stored_settings(root)
    if stored is None:
        raise ValueError(f"{root} holds no ablation (no config.json): name an ablation's root")
    stored.pop("preset_revision", None)
    for name in _TUPLES:
        if name in stored:
            stored[name] = tuple(stored[name])
    return config_from(**stored, **growing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--budget", type=int, required=True)
    parser.add_argument("--seeds", type=int, required=True)
    parser.add_argument("--arms", nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        config = stored_config(args.root, budget=args.budget, seeds=args.seeds, arms=args.arms)
    except ValueError as error:
        parser.error(str(error))
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / args.root.name
        shutil.copytree(args.root, copy)
        result = collect(config, copy)
    command = (
        f"bench/ablation_interim.py {args.root} --budget {args.budget} --seeds {args.seeds} "
        f"--arms {' '.join(args.arms)} (interim: from what the root held)"
    )
    print(write_results(result, args.out, command=command, root=args.root))
    anchors = get_preset(config.preset).anchor_names
    for r in result.rescored:
        if r.point.arm == "bn_relu":
            std = 100 * r.seed_std(anchors)
            print(f"seed {r.point.seed}: BN-ReLU's seed std on the anchors {std:.2f} points")


if __name__ == "__main__":
    main()
