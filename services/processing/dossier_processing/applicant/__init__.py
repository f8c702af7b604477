"""The applicant's personal data (Decree 13/2023/NĐ-CP): stored sealed, opened only for the portal.

`store.py` keeps the sealed blob of each dossier's latest `dossier.received` and erases it on request;
`keys.py` opens it with processing's private key (`PROCESSING_APPLICANT_PRIVATE_KEY`); `model.py` is the
opened `Applicant` and the national portal's fields; `cli.py` is `dossier-processing erase-applicant`.
"""

from dossier_processing.applicant.model import Applicant, applicant_fields
from dossier_processing.applicant.store import load_applicants

__all__ = ["Applicant", "applicant_fields", "load_applicants"]
