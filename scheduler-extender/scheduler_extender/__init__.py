"""kube-scheduler HTTP extender (not built yet; see scheduler-extender/README.md)."""
