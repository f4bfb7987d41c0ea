"""Kubernetes adapter: the only module tree that touches the kubernetes client."""
