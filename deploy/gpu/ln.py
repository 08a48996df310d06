"""``lipo-node`` with only the sub-commands a GPU run needs (deploy/gpu/campaign.sh).

The lent GPU machine has PyTorch but not the node's whole stack (pyradiomics, argon2, PyWavelets…
are not carried, to stay inside the transfer limit), and ``node.cli`` imports every command module
to build its parser. This runs the same ``main`` over the modules whose imports travel.
"""

import sys

import node.cli

node.cli._COMMAND_MODULES = (
    "node.synthetic.commands",  # synth cohort|labelmaps
    "node.segment.commands",    # train-seg, eval-seg, train-campaign
    "node.bench.commands",      # bench segment
    "node.holdout.commands",    # holdout generate
    "node.qc.commands",         # qc-tune
)

if __name__ == "__main__":
    sys.exit(node.cli.main())
