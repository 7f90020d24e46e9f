"""An organization read for a caller is the same model the ORM reads, field for field."""

from __future__ import annotations

import uuid

from kassa.models import Organization
from kassa.services.identity import Caller, OrgRole
from kassa.services.organizations import provision, visible
from tests.support import Kassa

COLUMNS = list(Organization._meta.fields_db_projection)


async def test_a_visible_organization_reads_as_the_orm_reads_it(kassa: Kassa) -> None:
    # given: an organization with every column set
    organization = await provision(f"reads-{uuid.uuid4().hex[:10]}")
    organization.stripe_customer_id = f"cus_{uuid.uuid4().hex[:14]}"
    organization.notify_url = "https://host.example/kassa"
    organization.notify_secret = "secret"
    organization.credit_debt = 42
    organization.billing_email = "billing@host.example"
    await organization.save()
    member = Caller(user_id="u", org_external_id=organization.external_id, org_role=OrgRole.OWNER)

    # when
    found = await visible(member, organization.id)

    # then
    expected = await Organization.get(id=organization.id)
    assert found is not None
    assert {name: getattr(found, name) for name in COLUMNS} == {
        name: getattr(expected, name) for name in COLUMNS
    }
    assert found.created_at.tzinfo is not None
    await found.save(update_fields=["billing_email"])  # a model the ORM can write back
    stranger = Caller(user_id="s", org_external_id="someone-else", org_role=OrgRole.OWNER)
    assert await visible(stranger, organization.id) is None
    assert await visible(member, uuid.uuid4()) is None
