"""同期開始 and auto-sync: read the store, reconcile, forward changes to ReCORE."""
