"""kube-scheduler HTTP extender."""
