"""The receiving side: the webhook listener, the token server, the polling watcher and the notification plan."""
