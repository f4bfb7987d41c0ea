"""IP release, reconcile and rebuild controllers (not built yet; see controllers/README.md)."""
