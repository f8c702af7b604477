"""The operator views: one dossier with its history and the filtered list, their OpenAPI models and
their SQL."""
