"""The lab's kube-scheduler stand-in.

It loads the same KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) as `deploy/`
and calls HTTP extenders exactly as kube-scheduler does (`wire` for the JSON, `extender` for
the HTTP client and its gating, `scheduler` for the cycle); its built-in predicates are the
few a lab cluster needs (`predicates`). Run it with `fip-lab scheduler --kubeconfig PATH`.
"""
