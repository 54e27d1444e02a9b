"""The reference's database: created at start-up in a temporary SQLite file, filled from the project's generator.

The records come from `fixtures.generate_dataset`, the function the mock serves from, so for the same seed
and record count both answer about the very same records and differ only in how they answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework_simplejwt.tokens import AccessToken

from fixtures import DatasetSize, generate_dataset
from tests.reference.models import BillingRecord

USERNAME = "mifumo-reference"
BATCH = 500


def create_tables() -> None:
    """`migrate` for Django's own apps and `--run-syncdb` for the reference's (it has no migrations)."""
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)


def load_records(seed: int, records: int) -> int:
    """The mock's Mifumo records for this seed and count, as `BillingRecord` rows; how many there are."""
    dataset = generate_dataset(seed, DatasetSize(records=records))
    BillingRecord.objects.bulk_create((_row(record) for record in dataset.records), batch_size=BATCH)
    return BillingRecord.objects.count()


def _row(record: dict[str, Any]) -> BillingRecord:
    return BillingRecord(
        id=record["id"],
        type=record["type"],
        description=record["description"],
        # Through str: the generator's float 2000000.0 is the decimal 2000000.00, never a binary neighbour.
        amount=Decimal(str(record["amount"])).quantize(Decimal("0.01")),
        currency=record["currency"],
        status=record["status"],
        created_at=datetime.fromisoformat(record["created_at"].replace("Z", "+00:00")),
    )


def issue_tokens() -> tuple[str, str]:
    """A valid access token for a created user, and one for the same user that expired an hour ago.

    Both are simplejwt's own `AccessToken.for_user`, so they are signed as the service signs them: the
    expired one differs only in its `exp` claim, and simplejwt answers it "Token is expired".
    """
    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    valid = AccessToken.for_user(user)
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-timedelta(hours=1))
    return str(valid), str(expired)
