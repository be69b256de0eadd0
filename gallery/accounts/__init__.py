"""People: the user model, signing in and out, and account checks."""
