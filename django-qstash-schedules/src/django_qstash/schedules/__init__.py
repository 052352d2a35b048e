"""django-qstash-schedules: cron schedules kept in Django and synced to QStash Schedules."""
