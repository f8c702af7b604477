"""Province simulator: realistic dossier traffic through the intake API, and a check of the numbers."""
