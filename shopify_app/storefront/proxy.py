"""The app-proxy page (B2, item 9 of the referral engine): Shopify forwards
`https://{shop}/apps/referrals/...` here, signed (`signature`) and naming the logged-in
customer (`logged_in_customer_id`). A customer joins the program here and shares the friend
offer by email; a shopper without an account signs up for email or SMS marketing
(`customers.signups`, E1) and confirms an email signup from the link it sends. Nothing is
trusted before the signature is verified.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from shopify_app import rate_limits
from shopify_app.client_address import client_ip
from shopify_app.customers import signups
from shopify_app.db import get_session, insert_ignore
from shopify_app.emails.suppression import canonical, masked
from shopify_app.models import AdvocateVisit, Customer, Shop, utcnow
from shopify_app.referrals import advocates
from shopify_app.referrals.program import get_program, offer_text, shop_currency
from shopify_app.shopify.services import shopify
from shopify_app.values import normalize_email

from . import share
from .proxy_signature import shopper_ip, verified_shop_and_customer
from .share import ShareLimits, ShareResult, share_offer
from .views import share_url

bp = Blueprint("proxy", __name__)

FRIENDS_PER_SHARE = 5
EXPIRED_FORM = _l("This form has expired; reload the page and try again.")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")


def _path_prefix() -> str:
    """Where the store serves this page (`/apps/referrals`). Signed by Shopify; still only a
    plain path is echoed into the page."""
    prefix = request.args.get("path_prefix", "/apps/referrals")
    plain = re.fullmatch(r"(/[A-Za-z0-9_.-]+){1,6}", prefix) and ".." not in prefix
    return prefix if plain else "/apps/referrals"


def login_url(path_prefix: str) -> str:
    """The store's customer login, coming back to this page afterwards: the store serves the
    app proxy at `<store root>/apps/<subpath>` and its login at `<store root>/account/login`
    (Shopify redirects that to the new customer accounts when the store uses them)."""
    root = path_prefix.rsplit("/apps/", 1)[0] if "/apps/" in path_prefix else ""
    return f"{root}/account/login?{urlencode({'return_url': path_prefix})}"


def _remember_device(session, shop: Shop, advocate) -> None:
    ip, agent = shopper_ip(), (request.headers.get("User-Agent") or "")[:500]
    if not ip or not agent:
        return
    insert_ignore(
        session,
        AdvocateVisit,
        {
            "shop_id": shop.id,
            "advocate_id": advocate.id,
            "ip": ip,
            "user_agent": agent,
            "last_seen_at": utcnow(),
        },
        ["advocate_id", "ip", "user_agent"],
    )
    session.commit()


def _form_token(shop: Shop, customer: Customer | None, purpose: str = "") -> str:
    """A token the page's forms carry back: a page from another site cannot make a
    logged-in customer join or send emails (their Shopify cookies alone are not enough).
    The signup forms carry their own (`purpose` "signup"), good for nothing else."""
    day = utcnow().date().isoformat()
    subject = f"{shop.domain}|{customer.shopify_id if customer else ''}|{day}"
    if purpose:
        subject += f"|{purpose}"
    secret = shopify().secrets[0]
    return hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()[:32]


def _form_token_ok(shop: Shop, customer: Customer | None, purpose: str = "") -> bool:
    given = request.form.get("token", "")
    return hmac.compare_digest(given.encode(), _form_token(shop, customer, purpose).encode())


def _page(shop, customer, logged_in, *, message=None, problem=None, status=200, signup=None):
    session = get_session()
    program = get_program(session, shop)
    advocate = advocates.advocate_for_customer(session, shop, customer.id) if customer else None
    if advocate is not None:
        _remember_device(session, shop, advocate)
    link = share_url(advocate.code) if advocate else None
    html = render_template(
        "storefront/proxy.html",
        shop=shop,
        program=program,
        customer=customer,
        logged_in=logged_in,
        advocate=advocate,
        link=link,
        offer=offer_text(program, shop_currency(shop)),
        message=message,
        problem=problem,
        path_prefix=_path_prefix(),
        login_url=login_url(_path_prefix()),
        token=_form_token(shop, customer),
        signup_token=_form_token(shop, customer, "signup"),
        via="invitation" if request.args.get("via") == "invitation" else "storefront",
        consent={channel: signups.consent_text(channel, shop) for channel in ("email", "sms")},
        signup=signup or {},
    )
    return Response(html, status=status, mimetype="text/html")


@bp.get("/proxy")
def proxy_home():
    shop, customer, logged_in = verified_shop_and_customer()
    return _page(shop, customer, logged_in)


@bp.post("/proxy/join")
def proxy_join():
    shop, customer, logged_in = verified_shop_and_customer()
    if not _form_token_ok(shop, customer):
        return _page(shop, customer, logged_in, problem=EXPIRED_FORM, status=403)
    if not get_program(get_session(), shop).enabled:
        return _page(shop, customer, logged_in, problem=_("The program is not open."), status=409)
    if customer is None:
        problem = (
            _("Log in to your account to join.")
            if not logged_in
            else _("Your account is being set up; try again in a minute.")
        )
        return _page(shop, customer, logged_in, problem=problem, status=409)
    session = get_session()
    via = "invitation" if request.form.get("via") == "invitation" else "storefront"
    try:
        advocate, created = advocates.join(
            session, shop, customer, via=via, actor=f"customer:{customer.shopify_id}"
        )
        session.commit()
    except advocates.JoinRefused as exc:
        session.rollback()
        return _page(shop, customer, logged_in, problem=str(exc).capitalize() + ".", status=409)
    message = _("You're in! Share your link with friends.") if created else None
    return _page(shop, customer, logged_in, message=message)


@bp.post("/proxy/share")
def proxy_share():
    """The advocate sends the friend offer to friends' addresses: validated, rate-limited, and
    each friend's email logged (staff read it in "did my friend get an email?")."""
    shop, customer, logged_in = verified_shop_and_customer()
    if not _form_token_ok(shop, customer):
        return _page(shop, customer, logged_in, problem=EXPIRED_FORM, status=403)
    session = get_session()
    advocate = advocates.advocate_for_customer(session, shop, customer.id) if customer else None
    if advocate is None:
        return _page(shop, customer, logged_in, problem=_("Join the program first."), status=409)
    raw = re.split(r"[,\s;]+", request.form.get("emails", "").strip())
    wanted = [e for e in (x.strip() for x in raw) if e]
    bad = [e for e in wanted if not EMAIL_RE.match(e)]
    if not wanted or bad:
        problem = (
            _("Enter one or more email addresses.")
            if not wanted
            else _("These are not email addresses: %(list)s", list=", ".join(bad[:5]))
        )
        return _page(shop, customer, logged_in, problem=problem, status=422)
    friends = list(dict.fromkeys(normalize_email(e) for e in wanted))
    if len(friends) > FRIENDS_PER_SHARE:
        return _page(
            shop,
            customer,
            logged_in,
            problem=_("Share with up to %(num)d friends at a time.", num=FRIENDS_PER_SHARE),
            status=422,
        )
    own = normalize_email(customer.email)
    if own in friends or canonical(own or "") in {canonical(f) for f in friends}:
        return _page(shop, customer, logged_in, problem=_("That's your own address."), status=422)
    limits = ShareLimits.from_config(current_app.config)
    result = share_offer(
        session, shop, advocate, customer, _one_per_mailbox(friends), ip=_share_ip(), limits=limits
    )
    session.commit()
    return _page(shop, customer, logged_in, **_share_outcome(result, limits))


def _share_ip() -> str | None:
    """The address the per-IP share limit counts: the shopper Shopify's proxy forwarded,
    else the connecting address (the one place that asks)."""
    return shopper_ip() or client_ip()


def _one_per_mailbox(friends: list[str]) -> list[str]:
    """`a.b@gmail.com` and `ab@gmail.com` are one mailbox: one email."""
    seen: set[str] = set()
    kept = []
    for friend in friends:
        if (key := canonical(friend) or friend) not in seen:
            seen.add(key)
            kept.append(friend)
    return kept


def _share_outcome(result: ShareResult, limits: ShareLimits) -> dict:
    """What the page says after a share, and its status."""
    if result.refused is not None:
        problem = {
            "advocate": ngettext(
                "You can share with %(num)d friend a day; try again tomorrow.",
                "You can share with %(num)d friends a day; try again tomorrow.",
                limits.per_advocate,
            ),
            "ip": _("Too many friends were invited from your network today; try again tomorrow."),
            "shop": _("The store has sent all the invitations it can today; try again tomorrow."),
        }[result.refused]
        return {"problem": problem, "status": 429}
    left_out = [f"{address} {share.SKIPPED[code]}" for address, code in result.skipped.items()]
    count = len(result.sent)
    if not count:
        status = 429 if "recipient_limit" in result.skipped.values() else 422
        return {"problem": _("Not sent: %(list)s.", list="; ".join(left_out)), "status": status}
    message = ngettext("Sent to %(num)d friend.", "Sent to %(num)d friends.", count)
    if left_out:
        message += " " + _("Not sent: %(list)s.", list="; ".join(left_out))
    return {"message": message}


@bp.post("/proxy/subscribe")
def proxy_subscribe():
    """A shopper signs up for email or SMS marketing with the consent box ticked. The answer
    is the same whether the address was known or not; invalid input is refused with the
    reason; per shopper and per address the signups are rate limited (429 + Retry-After)."""
    shop, customer, logged_in = verified_shop_and_customer()
    rate_limits.limit("signup")
    if not _form_token_ok(shop, customer, "signup"):
        return _page(shop, customer, logged_in, problem=EXPIRED_FORM, status=403)
    given = {"email": request.form.get("email", ""), "phone": request.form.get("phone", "")}
    try:
        contact = signups.parse_contact(given["email"], given["phone"])
    except signups.InvalidContact as exc:
        return _page(shop, customer, logged_in, problem=str(exc), status=422, signup=given)
    if request.form.get("consent") != "yes":
        problem = (
            _("Tick the box to agree to receive emails from the store.")
            if contact.channel == "email"
            else _("Tick the box to agree to receive texts from the store.")
        )
        return _page(shop, customer, logged_in, problem=problem, status=422, signup=given)
    rate_limits.limit("signup-address", signups.address_key(shop, contact))
    session = get_session()
    signups.sign_up(session, shop, contact, confirm_url=_storefront_url(shop) + "/confirm")
    session.commit()
    if contact.channel == "email":
        message = (
            _("Almost done: we sent a link to %(address)s.", address=masked(contact.address))
            + " "
            + _("Open it to confirm your subscription.")
        )
    else:
        message = _(
            "Thanks! Your signup for texts at %(number)s is recorded.", number=contact.address
        )
    return _page(shop, customer, logged_in, message=message)


def _storefront_url(shop: Shop) -> str:
    """Where the store serves this page: the shop's own host (the origin of
    `SHOPIFY_SHOP_URL`: `https://{shop}` at Shopify, the devstore locally) and the proxy's
    path prefix Shopify signed."""
    base = urlsplit(current_app.config["SHOPIFY_SHOP_URL"].format(shop=shop.domain))
    return f"{base.scheme}://{base.netloc}{_path_prefix()}"


CONFIRM_PROBLEMS = {
    "invalid": (_l("This link is not valid for this store."), 404),
    "used": (_l("This link was already used."), 410),
    "expired": (_l("This link has expired; sign up again to get a new one."), 410),
}


def _confirm_page(shop, *, token=None, message=None, outcome=None):
    problem, status = CONFIRM_PROBLEMS.get(outcome or "", (None, 200))
    html = render_template(
        "storefront/confirm.html",
        shop=shop,
        token=token,
        message=message,
        problem=problem,
        path_prefix=_path_prefix(),
    )
    return Response(html, status=status, mimetype="text/html")


@bp.get("/proxy/confirm")
def proxy_confirm_page():
    """The link in the confirmation email: a page with one button (a link scanner that
    opens the link confirms nothing)."""
    shop, _customer, _logged_in = verified_shop_and_customer()
    token = request.args.get("token", "")
    _row, refused = signups.pending_confirmation(get_session(), shop, token)
    if refused is not None:
        return _confirm_page(shop, outcome=refused)
    return _confirm_page(shop, token=token)


@bp.post("/proxy/confirm")
def proxy_confirm():
    shop, _customer, _logged_in = verified_shop_and_customer()
    session = get_session()
    outcome = signups.confirm(session, shop, request.form.get("token", ""))
    session.commit()
    if outcome in ("confirmed", "already"):
        name = " ".join((shop.name or shop.domain).split())
        return _confirm_page(
            shop, message=_("You are subscribed to emails from %(shop)s.", shop=name)
        )
    return _confirm_page(shop, outcome=outcome)
