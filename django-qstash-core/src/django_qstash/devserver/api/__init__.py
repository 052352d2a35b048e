"""The QStash REST API of the dev server, one module per resource (see ``router``)."""
