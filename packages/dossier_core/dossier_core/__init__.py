"""Pure domain core of dossier tracking: typed events, catalog, working-time calendar, legal
deadlines, the pause rule, lifecycle fold, timeliness and report arithmetic. No I/O: the catalog
is read from its CSV files by the adapter `catalog_csv`, and the current instant is always an
argument. `docs/domain.md` maps each rule to its module."""
