"""The lab's kube-controller-manager stand-in: Deployment, ReplicaSet, StatefulSet, TApp and
EndpointSlice controllers.

Each controller is level-based: a work item is the key (`namespace/name`) of the object it
owns, and `reconcile(key)` reads the current state from the API server (not from a cache, so
a lagging watch never makes it create a pod twice) and moves it one step towards the spec.
`manager.Manager` runs them from watches; `fip-lab workloads --kubeconfig PATH` runs the lot.
"""
