"""Use cases: ingest signals, route them to subscriptions, execute, reconcile, recover."""
