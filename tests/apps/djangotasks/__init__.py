"""``@task`` functions for the django.tasks contract tests, run by a live server.

``tasks.py`` is imported at start-up (autodiscovery); ``unimported.py`` is imported by nothing, so
a server finds its tasks only by their module path. ``helpers.py`` holds no task at all.
"""
