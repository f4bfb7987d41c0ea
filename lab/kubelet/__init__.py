"""The kubelet stand-in of the lab: one per simulated node (see kubelet.py)."""
