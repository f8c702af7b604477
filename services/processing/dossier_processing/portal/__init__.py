"""National-portal sync (DVCQG): the `DongBoHoSoMC` record, the change feed route, the push worker that
follows the feed, and their SQL."""
