"""The lab's kube-scheduler stand-in.

It loads the same KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) as `deploy/`
(`config`) and calls HTTP extenders exactly as kube-scheduler does: `wire` encodes and decodes
the JSON as Go does, `extender` is the HTTP client with its managedResources gate, `scheduler`
runs the cycle (filters, extenders, scores, bind), `queue` the active/backoff/unschedulable
queue, `events` the pod events; its built-in filters are the few a lab cluster needs
(`predicates`). Run it with `fip-lab scheduler --kubeconfig PATH [--config FILE]`.
"""
