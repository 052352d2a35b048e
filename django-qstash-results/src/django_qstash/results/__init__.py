"""django-qstash-results: store task outcomes in the Django database."""
