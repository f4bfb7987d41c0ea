"""eBPF ClusterIP datapath for pods bypassing the host stack (not built yet; architecture flow 6)."""
