"""The whole fip system on one machine: `fip-lab up / status / down` (see lab/cluster/README.md)."""
