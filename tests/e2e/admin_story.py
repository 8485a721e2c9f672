"""A shop with something on every admin page, for the walks over all of them
(test_admin_layout.py): a program whose settings changed, two advocates, a completed referral
reassigned from one to the other, a referral blocked by a fraud rule and one by the
blocklist, a voided one, a blocklist entry, a bulk export, an API key and a webhook endpoint;
all made as staff 501 through the app's own forms (signed ID tokens)."""

from __future__ import annotations

from dataclasses import dataclass

from devstore import commerce
from shopify_app.models import Advocate, Customer, Referral
from tests.conftest import SHOP_A
from tests.integration.test_inbox import start as start_conversation
from tests.integration.test_program_pages import LINES, get, post, referral_setup, settle
from tests.integration.webhook_support import install, one, rows, run_jobs


@dataclass
class Story:
    ada: Customer
    ben: Customer
    reassigned: Referral  # completed, given from Ada to Ben
    blocked: Referral  # Ada's own alias: self-referral rule
    blocklisted: Referral  # Eve, on the blocklist
    conversation: int  # Ada's chat, with a staff reply and a private note


def seed(live) -> Story:
    install(live, SHOP_A)
    referral_setup(live, last_name="Lovelace", phone="+358401234567")
    commerce.create_customer(
        live.state, SHOP_A, email="ben@example.com", first_name="Ben", last_name="Bishop"
    )
    settle(live)
    assert post(live, "/advocates", {"email": "ben@example.com"}).status_code == 200
    run_jobs(live.app)
    completed = one(live.app, Referral, Referral.status == "completed")
    moved = post(
        live,
        f"/portal/referrals/{completed.id}/reassign",
        {"advocate": "ben@example.com", "reason": "Ben told Bob about the shop first"},
    )
    assert moved.status_code == 200, moved.text
    listed = post(live, "/blocklist", {"kind": "email", "value": "*@spam.test", "note": "ring"})
    assert listed.status_code == 200
    ada = one(live.app, Customer, Customer.email == "ada.l@gmail.com")
    ada_advocate = one(live.app, Advocate, Advocate.customer_id == ada.id)
    eve = commerce.create_customer(live.state, SHOP_A, email="eve@spam.test", first_name="Eve")
    commerce.place_order(
        live.state, SHOP_A, customer_id=eve.id, lines=LINES, discount_code=ada_advocate.code
    )
    cy = commerce.create_customer(live.state, SHOP_A, email="cy@example.com", first_name="Cy")
    commerce.place_order(
        live.state, SHOP_A, customer_id=cy.id, lines=LINES, discount_code=ada_advocate.code
    )
    settle(live)
    voided = max(rows(live.app, Referral), key=lambda r: r.id)
    assert post(live, f"/referrals/{voided.id}/void", {"reason": "Returned"}).status_code == 200
    assert post(live, "/customers/export", {"request_key": "story"}).status_code == 200
    run_jobs(live.app)
    assert post(live, "/settings/api-keys", {"name": "Zapier", "access": "read"}).status_code in (
        200,
        201,
    )
    blocked = [r for r in rows(live.app, Referral) if r.status == "blocked"]
    by_rule = {r.status_reason.startswith("Blocklisted"): r for r in blocked}
    ben = one(live.app, Customer, Customer.email == "ben@example.com")
    assert get(live, "/portal/audit").status_code == 200
    conversation = start_conversation(
        live,
        SHOP_A,
        "ada.l@gmail.com",
        ("shopper", "Where is my reward? <b>bold</b>"),
        ("staff", "It was emailed to you on Monday."),
        ("note", "Checked the reward log"),
        name="Ada",
        customer_email="ada.l@gmail.com",
    )
    return Story(
        ada=ada,
        ben=ben,
        reassigned=completed,
        blocked=by_rule[False],
        blocklisted=by_rule[True],
        conversation=conversation,
    )


def admin_pages(story: Story) -> dict[str, str]:
    """Every admin page, by the name its screenshot gets."""
    return {
        "home": "",
        "customers": "/customers",
        "customer-ada": f"/customers/{story.ada.id}",
        "customer-ben": f"/customers/{story.ben.id}",
        "referrals": "/referrals",
        "referrals-blocked": "/referrals?status=blocked",
        "referrals-flagged": "/referrals?status=flagged",
        "existing-customers": "/referrals/existing-customers",
        "advocates": "/advocates",
        "support": "/portal",
        "support-search": "/portal?q=ada",
        "support-person": f"/portal/customers/{story.ada.id}",
        "support-referral-reassigned": f"/portal/referrals/{story.reassigned.id}",
        "support-referral-blocked": f"/portal/referrals/{story.blocked.id}",
        "support-referral-blocklisted": f"/portal/referrals/{story.blocklisted.id}",
        "audit": "/portal/audit",
        "blocklist": "/blocklist",
        "emails": "/emails",
        "settings": "/settings",
        "webhooks": "/settings/webhooks",
        "api-keys": "/settings/api-keys",
        "conversations": "/admin/conversations",
        "conversation-ada": f"/admin/conversations?c={story.conversation}",
    }
