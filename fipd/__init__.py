"""fipd."""
