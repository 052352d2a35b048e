"""A local, QStash-compatible development server (see ``python -m django_qstash.devserver``)."""
