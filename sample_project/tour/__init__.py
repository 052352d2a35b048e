"""The parts of the django-qstash tour (sample_project/demo.py, ``make demo`` and ``make run``)."""
