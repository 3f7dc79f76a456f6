"""Re-runnable studies (``python -m neuraltide.experiments.<name>``)."""
