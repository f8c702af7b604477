"""Pure domain core of dossier tracking: catalog, working-time calendar, legal deadlines,
lifecycle fold, timeliness and report arithmetic. No I/O beyond reading the catalog files;
the current instant is always an argument."""
