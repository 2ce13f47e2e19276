"""What-if arguments shared by `profile` and `fit`."""

from __future__ import annotations

import argparse

from ..errors import BadInput


def add_whatif_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what-ifs (sizes recomputed; the model file is not changed)")
    g.add_argument("--weights-dtype", metavar="int8|fp16|fp32",
                   help="count weights in this dtype (conv/FC biases stay int32 under int8)")
    g.add_argument("--activations-dtype", metavar="int8|fp16|fp32",
                   help="count activations (arena tensors) in this dtype")
    g.add_argument("--prune", metavar="PCT",
                   help="zero the smallest-magnitude PCT (e.g. 50%%) of each weight tensor")


def whatif_from_args(args: argparse.Namespace):
    from ..whatif import WhatIf, parse_dtype, parse_fraction

    try:
        return WhatIf(
            weights=parse_dtype(args.weights_dtype) if args.weights_dtype else None,
            activations=parse_dtype(args.activations_dtype) if args.activations_dtype else None,
            prune=parse_fraction(args.prune) if args.prune is not None else None,
        )
    except BadInput as e:
        raise BadInput(f"what-if: {e}") from None
