"""The `events` table over time: its month partitions (`partitions.py`) and the archiving of months no
dossier needs any more, with their restore (`archive.py`, the `events` command in `cli.py`)."""
