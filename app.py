"""Laurel's HTTP API (Chalice). Routes stay thin: parse and authorise (chalicelib.core.web), call the domain, answer."""
from chalice import Chalice

from chalicelib.core import auth, clock, db, locales, orgs, pagination
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.ids import EXTERNAL_ID
from chalicelib.core.web import ENDPOINTS, Call, endpoint, install, modules_in, shapes_in
from chalicelib.rewards import statuses  # its statuses and queues are in the declarations (it imports nothing)

# The areas' modules the routes call, named: each loads on the first call of a route that uses it, not at every
# cold start, and a route's first call loads its own area's (chalicelib.core.web).
campaigns, earn, order_webhooks, recognition, referrals = modules_in(
    "chalicelib.earning", "campaigns", "earn", "order_webhooks", "recognition", "referrals")
adjustments, directory, membership, offboarding, predictions, programs, statement, tier_review = modules_in(
    "chalicelib.members", "adjustments", "directory", "membership", "offboarding", "predictions", "programs",
    "statement", "tier_review")
(uploads,) = modules_in("chalicelib.members.imports", "uploads")
broadcasts, message_log, preferences, program_templates = modules_in(
    "chalicelib.messaging", "broadcasts", "message_log", "preferences", "program_templates")
(unsubscribe_pages,) = modules_in("chalicelib.notices", "unsubscribe_pages")
erasure, member_export = modules_in("chalicelib.privacy", "erasure", "export")
budgets, cash, catalog, payouts, redemptions, review = modules_in(
    "chalicelib.rewards", "budgets", "cash", "catalog", "payouts", "redemptions", "review")
donation, merchandise = modules_in("chalicelib.rewards.kinds", "donation", "merchandise")
deliveries, endpoints, events = modules_in("chalicelib.webhooks", "deliveries", "endpoints", "events")
finance, insight_report, leaderboard_page, sheets = modules_in("chalicelib.insight", "finance", "report",
                                                              "leaderboard_page", "sheets")
audit, spreadsheets = modules_in("chalicelib.core", "audit", "spreadsheets")

app = Chalice(app_name="laurel")
install(app)

KEYS = auth.ROLES  # any key of the organisation
ADMIN = ("admin",)
SHIPPERS = ("admin", "fulfilment")  # a fulfilment partner (3PL) ships merchandise, and reaches nothing else
READERS = ("admin", "analyst")
AUDITORS = ("admin", "auditor")  # an auditor key reads the organisation and its audit trail, and changes nothing
MEMBER_READERS = ("admin", "store", "analyst", "member")
CATALOG_READERS = ("admin", "store", "analyst", "member")
P = "/v1/programs/{program_id}"
M = P + "/members/{external_id}"
W = "/v1/webhook-endpoints"
E = W + "/{endpoint_id}"
D = E + "/deliveries/{delivery_id}"
T = P + "/templates/{kind}/{locale}"
FORMS = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
# Each route names its shapes in its area's shapes module: none loads until a call parses a body of it.
CORE = shapes_in("chalicelib.core.shapes")
WEBHOOKS = shapes_in("chalicelib.webhooks.shapes")
MEMBERS = shapes_in("chalicelib.members.shapes")
EARNING = shapes_in("chalicelib.earning.shapes")
EVENTS = shapes_in("chalicelib.earning.event_shapes")
ORDERS = shapes_in("chalicelib.earning.order_shapes")
REWARDS = shapes_in("chalicelib.rewards.shapes")
PAYOUTS = shapes_in("chalicelib.rewards.payout_shapes")
MESSAGING = shapes_in("chalicelib.messaging.shapes")
AUDIT = shapes_in("chalicelib.core.audit_shapes")
INSIGHT = shapes_in("chalicelib.insight.shapes")
FINANCE = shapes_in("chalicelib.insight.finance_shapes")


def program_of(call: Call) -> str:
    """The program in the path; a member session reaches only its own program."""
    program_id = call.params["program_id"]
    if call.principal.kind == "member" and call.principal.program_id != program_id:
        raise NotFound("No such program.")
    return program_id


def member_of(call: Call) -> tuple[str, str]:
    """The program and member in the path; a member session reaches only itself."""
    program_id, external_id = program_of(call), call.params["external_id"]
    if not EXTERNAL_ID.fullmatch(external_id):
        raise ValidationFailed("external_id must be 1-128 characters of A-Z a-z 0-9 . _ - : @",
                               {"field": "external_id"})
    auth.require_member_access(call.principal, program_id, external_id)
    return program_id, external_id


# Member-session keys are namespaced from this deploy on; a key a member used before it still answers its first
# result for a week after (set to the deploy's time when it ships; later is safe, earlier is not).
MEMBER_KEYS_NAMESPACED_AT = "2026-12-15T00:00:00.000Z"
LEGACY_KEYS_READ_UNTIL = "2026-12-22T00:00:00.000Z"


def idempotency_key_of(call: Call, scope: str) -> str:
    """The caller's Idempotency-Key, in the member's own namespace for a member session, so no member can take
    a key a store or an admin will use (probe finding 5). The namespace holds a space, which no header key may.

    Until LEGACY_KEYS_READ_UNTIL, a member-session write first reads the bare key's entry (one read): if the
    member made it before MEMBER_KEYS_NAMESPACED_AT, the bare key is kept, so a replay answers its first result."""
    key = call.idempotency_key
    if call.principal.kind != "member":
        return key
    program_id, external_id = call.principal.program_id, call.principal.external_id
    if clock.iso(clock.now()) < LEGACY_KEYS_READ_UNTIL:
        first = (db.get(db.CashEntryItem, db.CashEntryItem.key(program_id, scope, key)) if scope == "payout" else
                 db.get(db.EntryItem, (db.entry_pk(program_id, scope, key), "ENTRY")))
        if first is not None and first.external_id == external_id and first.created_at < MEMBER_KEYS_NAMESPACED_AT:
            return key
    return f"member {external_id} {key}"


# --- service ---------------------------------------------------------------------------------

@endpoint(app, "GET", "/v1/health", roles=(), summary="Liveness", answer=CORE("Health"))
def health(call: Call):
    return {"status": "ok"}


@endpoint(app, "GET", "/v1/openapi.json", roles=(), summary="This API's OpenAPI 3 document")
def openapi_document(call: Call):
    from chalicelib.core import openapi  # only this route needs JSON Schema generation: kept off the cold start

    return openapi.document(ENDPOINTS)


# --- organisations and keys ------------------------------------------------------------------

@endpoint(app, "POST", "/v1/orgs", roles=("root",), summary="Create an organisation and its first admin key",
          body=CORE("OrgCreate"), answer=CORE("OrgCreated"), status=201)
def create_org(call: Call):
    created = orgs.create_org(call.body.name)
    call.audit_org = created["id"]  # root belongs to no organisation: the record goes to the one it created
    return created


@endpoint(app, "GET", "/v1/org", roles=KEYS, summary="The caller's organisation", answer=CORE("Org"))
def get_org(call: Call):
    return orgs.get_org(call.org_id)


@endpoint(app, "POST", "/v1/api-keys", roles=ADMIN, summary="Create an API key (its secret is shown once)",
          body=CORE("ApiKeyCreate"), answer=CORE("ApiKeyCreated"), status=201)
def create_api_key(call: Call):
    return orgs.create_key(call.org_id, call.body.name, call.body.role, call.body.program_id, call.body.expires_at,
                           call.body.allowed_sources)


@endpoint(app, "GET", "/v1/api-keys", roles=ADMIN, summary="The organisation's API keys, without secrets",
          answer=CORE("ApiKeyList"), paged=True)
def list_api_keys(call: Call):
    return orgs.list_keys(call.org_id, call.query)


@endpoint(app, "DELETE", "/v1/api-keys/{key_id}", roles=ADMIN, summary="Revoke an API key", status=204)
def revoke_api_key(call: Call):
    orgs.revoke_key(call.org_id, call.params["key_id"])


# --- the audit trail ------------------------------------------------------------------------

@endpoint(app, "GET", "/v1/audit", roles=AUDITORS,
          summary="The organisation's audit trail, newest first: every call that changed something and every staff "
                  "read of a member's personal data (ids only, never a body); filters combine (AND), and a page may "
                  "hold fewer than limit and still carry a next_cursor", answer=AUDIT("AuditRecordList"), paged=True,
          query=(("actor", "Only the calls of this actor: a key's id, a member's external id, or root"),
                 ("target", "Only the calls on this id (any of the path's ids: a program, a member, a reward...)"),
                 ("action", "Only this operation, as METHOD and path template: POST /v1/programs/{program_id}/rewards"),
                 ("from", "From this time on, ISO 8601 (2024-06-01T00:00:00Z)", {"format": "date-time"}),
                 ("to", "Up to this time, ISO 8601", {"format": "date-time"}),
                 ("format", "json (the default) or csv: up to 1000 records a sheet, the next sheet's cursor in the "
                            "X-Next-Cursor header", {"enum": ["json", "csv"]})), sheet=True)
def list_audit(call: Call):
    if spreadsheets.wants_csv(call.query):
        text, next_cursor = audit.sheet(call.org_id, call.query)
        answer = spreadsheets.response(text, "audit.csv")
        if next_cursor:
            answer.headers["X-Next-Cursor"] = next_cursor
        return answer
    return audit.page(call.org_id, call.query)


@endpoint(app, "GET", "/v1/audit/verify", roles=AUDITORS,
          summary="Walk the audit chain oldest first and report its first break: a record edited, replaced or "
                  "deleted before its expiry (up to 20000 records a call; next_from_seq continues)",
          answer=AUDIT("AuditVerification"),
          query=(("from_seq", "Start at this record (the next_from_seq of the call before)",
                  {"type": "integer", "minimum": 1}),))
def verify_audit(call: Call):
    return audit.verify(call.org_id, call.query)


@endpoint(app, "GET", "/v1/audit/settings", roles=AUDITORS, summary="How long the organisation keeps audit records",
          answer=AUDIT("AuditSettings"))
def get_audit_settings(call: Call):
    return audit.settings(call.org_id)


@endpoint(app, "PUT", "/v1/audit/settings", roles=ADMIN,
          summary="Set how long audit records written from now on are kept (30 to 3650 days; 400 by default)",
          body=AUDIT("AuditSettingsUpdate"), answer=AUDIT("AuditSettings"))
def put_audit_settings(call: Call):
    return audit.set_retention(call.org_id, call.body.retention_days)


# --- programs --------------------------------------------------------------------------------

def _program_fields(body, unset: bool) -> dict:
    fields = body.model_dump(exclude_unset=unset)
    for name in ("earn_rules", "tiers"):
        if fields.get(name) is not None:
            fields[name] = [item.model_dump(exclude_none=True) for item in getattr(body, name)]
    for name in ("redemption_policy", "budget", "offboarding"):  # stored whole, defaults included, even from a PATCH
        if fields.get(name) is not None:
            fields[name] = getattr(body, name).model_dump()
    for tier in fields.get("tiers") or []:
        if not tier.get("bonus_points"):
            del tier["bonus_points"]  # stored and shown as the contract's tier unless a bonus is set
    return fields


@endpoint(app, "POST", "/v1/programs", roles=ADMIN, summary="Create a program", body=EARNING("ProgramCreate"),
          answer=EARNING("Program"), status=201)
def create_program(call: Call):
    return programs.create(call.org_id, _program_fields(call.body, unset=False))


@endpoint(app, "GET", "/v1/programs", roles=READERS, summary="The organisation's programs",
          answer=EARNING("ProgramList"), paged=True)
def list_programs(call: Call):
    return programs.list_(call.org_id, call.query)


@endpoint(app, "GET", P, roles=READERS, summary="A program", answer=EARNING("Program"))
def get_program(call: Call):
    return programs.view(programs.load(call.org_id, call.params["program_id"]))


@endpoint(app, "PATCH", P, roles=ADMIN, summary="Change a program (applies from now on)", body=EARNING("ProgramUpdate"),
          answer=EARNING("Program"))
def update_program(call: Call):
    changes = _program_fields(call.body, unset=True)
    program = programs.update(call.org_id, call.params["program_id"], changes)
    tier_review.sweep_after_change(call.params["program_id"], set(changes))
    return program


@endpoint(app, "POST", P + "/campaigns", roles=ADMIN, summary="Start a campaign: rules for a while, within a budget",
          body=EARNING("CampaignCreate"), answer=EARNING("Campaign"), status=201)
def create_campaign(call: Call):
    body = call.body
    fields = {"name": body.name, "starts_at": clock.iso(body.starts_at), "ends_at": clock.iso(body.ends_at),
              "budget_points": body.budget_points,
              "earn_rules": [rule.model_dump(exclude_none=True) for rule in body.earn_rules]}
    return campaigns.create(call.org_id, call.params["program_id"], fields)


@endpoint(app, "GET", P + "/campaigns", roles=READERS, summary="The program's campaigns and what each has spent",
          answer=EARNING("CampaignList"))
def list_campaigns(call: Call):
    return campaigns.list_(call.org_id, call.params["program_id"])


@endpoint(app, "PATCH", P + "/campaigns/{campaign_id}", roles=ADMIN, summary="Stop a campaign",
          body=EARNING("CampaignUpdate"), answer=EARNING("Campaign"))
def stop_campaign(call: Call):
    return campaigns.stop(call.org_id, call.params["program_id"], call.params["campaign_id"])


# --- members ---------------------------------------------------------------------------------

@endpoint(app, "PUT", M, roles=ADMIN, summary="Create or update a member (201 created, 200 updated)",
          body=MEMBERS("MemberUpsert"), answer=MEMBERS("Member"), status=201, also=(200,))
def upsert_member(call: Call):
    view, created = membership.upsert(call.org_id, *member_of(call), call.body.model_dump(exclude_unset=True))
    return (201 if created else 200), view


@endpoint(app, "GET", P + "/members", roles=READERS,
          summary="The program's members, newest first (every member, however enrolled), filtered and searched: "
                  "filters combine (AND); with tier, status or attribute a page may hold fewer than limit and still carry a "
                  "next_cursor; an unknown filter or a value that cannot match is a 400 saying how to send it",
          answer=MEMBERS("MemberDirectory"), paged=True,
          query=(("tier", "Only the members in this tier (one of the program's tiers, by name)"),
                 ("status", "Only the members with this status", {"enum": ["active", "closed", "blocked"]}),
                 ("attribute", "Only the members whose attribute has this value, as name:value (exact; a value "
                               "that is not a string as JSON: active:true, level:3)"),
                 ("email", "The members with this email (case-insensitive), found by its keyed hash: by external id"),
                 ("phone", "The members with this phone, in E.164 (+ sent as %2B; spaces, dashes and a leading 00 "
                           "are taken), found by its keyed hash: by external id"),
                 ("external_id_prefix", "The members whose external id starts with this (case-sensitive): by "
                                        "external id"),
                 ("name_prefix", "The members whose name starts with this (case-insensitive): by name")),
          audit="personal")
def list_members(call: Call):
    return directory.list_members(call.org_id, call.params["program_id"], call.query)


@endpoint(app, "GET", M, roles=MEMBER_READERS, summary="A member with its balance", answer=MEMBERS("Member"),
          audit="personal")
def get_member(call: Call):
    return membership.get(call.org_id, *member_of(call))


@endpoint(app, "GET", M + "/balance", roles=MEMBER_READERS + ("partner",), summary="A member's balance",
          answer=MEMBERS("Balance"))
def get_balance(call: Call):
    return membership.balance(call.org_id, *member_of(call))


@endpoint(app, "GET", M + "/transactions", roles=("admin", "analyst", "member"),
          summary="A member's transactions, newest first", answer=MEMBERS("TransactionList"), paged=True,
          audit="personal")
def list_transactions(call: Call):
    return membership.transactions(call.org_id, *member_of(call), call.query)


@endpoint(app, "GET", M + "/tier-history", roles=("admin", "analyst", "member"),
          summary="A member's tier changes, newest first", answer=MEMBERS("TierChangeList"), paged=True,
          audit="personal")
def tier_history(call: Call):
    return membership.tier_history(call.org_id, *member_of(call), call.query)


@endpoint(app, "POST", M + "/adjustments", roles=ADMIN, summary="Credit or debit a member by hand",
          body=MEMBERS("AdjustmentCreate"), answer=MEMBERS("Adjustment"), status=201, idempotent=True)
def adjust(call: Call):
    result, replayed = adjustments.adjust(call.org_id, *member_of(call), call.body.points, call.body.reason,
                                          call.idempotency_key)
    return (200 if replayed else 201), result


@endpoint(app, "POST", M + "/sessions", roles=ADMIN, summary="A session token for one member (at most 24 h)",
          body=MEMBERS("SessionCreate"), answer=MEMBERS("Session"), status=201)
def open_session(call: Call):
    return membership.open_session(call.org_id, *member_of(call), call.body.ttl_seconds)


@endpoint(app, "DELETE", M + "/sessions", roles=("admin", "member"),
          summary="End every session of the member at once (each answers 401 within 30 s)", status=204)
def revoke_sessions(call: Call):
    program_id, external_id = member_of(call)
    membership.require(call.org_id, program_id, external_id, profile=False)
    auth.revoke_sessions(call.org_id, program_id, external_id)


@endpoint(app, "GET", M + "/referral-code", roles=("admin", "member"), summary="The member's referral code",
          answer=EARNING("ReferralCode"), also=(409,))
def referral_code(call: Call):
    return referrals.member_code(call.org_id, *member_of(call))


@endpoint(app, "PUT", M + "/referral", roles=("admin", "member"),
          summary="Record who referred the member (once; self-referral and cycles refused)",
          body=EARNING("ReferralAttach"), answer=EARNING("Referral"), status=201, also=(200,))
def attach_referral(call: Call):
    view, attached = referrals.attach(call.org_id, *member_of(call), call.body.code)
    return (201 if attached else 200), view


@endpoint(app, "POST", M + "/recognitions", roles=("admin", "member"),
          summary="Give points to another member from this member's monthly allowance",
          body=EARNING("RecognitionCreate"), answer=EARNING("Recognition"), status=201, idempotent=True)
def recognise(call: Call):
    result, replayed = recognition.give(call.org_id, *member_of(call), call.body.model_dump(),
                                          idempotency_key_of(call, "rcg"))
    return (200 if replayed else 201), result


# --- offboarding, blocking and the data subject's rights (docs/privacy.md) ----------------------------

@endpoint(app, "POST", M + "/close", roles=ADMIN,
          summary="Close a member (offboarding): no more earning or redeeming; its points forfeited if the program "
                  "says so (offboarding.forfeit_on_close), else kept until they expire; closed already: as it is",
          body=MEMBERS("MemberClose"), answer=MEMBERS("MemberStatus"), idempotent=True, also=(409,))
def close_member(call: Call):
    return offboarding.close(call.org_id, *member_of(call), call.body.reason, call.idempotency_key)


@endpoint(app, "POST", M + "/reopen", roles=ADMIN,
          summary="Reopen a closed member (forfeited points stay forfeited; 409 if blocked or erased)",
          answer=MEMBERS("MemberStatus"), idempotent=True, also=(409,))
def reopen_member(call: Call):
    return offboarding.reopen(call.org_id, *member_of(call))


@endpoint(app, "POST", M + "/block", roles=ADMIN,
          summary="Block a member (fraud): no earning or redeeming until unblocked, its reason kept (409 if closed)",
          body=MEMBERS("MemberBlock"), answer=MEMBERS("MemberStatus"), idempotent=True, also=(409,))
def block_member(call: Call):
    return offboarding.block(call.org_id, *member_of(call), call.body.reason)


@endpoint(app, "POST", M + "/unblock", roles=ADMIN, summary="Unblock a member: it earns and redeems again",
          answer=MEMBERS("MemberStatus"), idempotent=True, also=(409,))
def unblock_member(call: Call):
    return offboarding.unblock(call.org_id, *member_of(call))


@endpoint(app, "GET", M + "/export", roles=ADMIN,
          summary="Everything Laurel holds about the member (access request), as machine-readable JSON: profile, "
                  "status, account, ledger, tier history, redemptions, cash wallet and payouts, messages, preferences "
                  "and consents, predictions, referral", answer=MEMBERS("MemberExport"), audit="personal")
def export_member(call: Call):
    return member_export.export(call.org_id, *member_of(call))


@endpoint(app, "POST", M + "/erasure", roles=ADMIN,
          summary="Erase the member's personal data (closes it for good; the ledger's amounts stay under its id); "
                  "409 erasure_blocked while a payout or redemption is in flight; erased already: as it is",
          answer=MEMBERS("MemberStatus"), idempotent=True, also=(409,))
def erase_member(call: Call):
    return erasure.erase(call.org_id, *member_of(call), call.idempotency_key)


# --- member imports --------------------------------------------------------------------------

@endpoint(app, "POST", P + "/imports", roles=ADMIN,
          summary="A presigned URL to upload a CSV or JSON-lines file of members; it is imported once uploaded",
          body=MEMBERS("ImportCreate"), answer=MEMBERS("ImportUpload"), status=201)
def create_import(call: Call):
    return uploads.upload(call.org_id, call.params["program_id"], call.body.file_name, call.body.size)


@endpoint(app, "GET", P + "/imports", roles=ADMIN, summary="The program's member imports, newest first",
          answer=MEMBERS("ImportList"), paged=True,
          query=(("key", "Only the imports of this uploaded object (the key POST .../imports answered)"),))
def list_imports(call: Call):
    return uploads.list_(call.org_id, call.params["program_id"], call.query)


@endpoint(app, "GET", P + "/imports/{import_id}", roles=ADMIN,
          summary="A member import's status and counts; once finished, a URL of its per-row report",
          answer=MEMBERS("Import"), audit="personal")
def get_import(call: Call):
    return uploads.get(call.org_id, call.params["program_id"], call.params["import_id"])


# --- events ----------------------------------------------------------------------------------

@endpoint(app, "POST", P + "/events", roles=("admin", "partner"), summary="Record an event and award its points",
          body=EVENTS("EventIn"), answer=MEMBERS("EventResult"), status=201, also=(200,), audit="ledger")
def record_event(call: Call):
    event = call.body.model_dump(mode="json", exclude_none=True)
    result, replayed = earn.record_event(call.org_id, call.params["program_id"], event)
    return (200 if replayed else 201), result


@endpoint(app, "POST", P + "/webhooks/orders", roles=("admin", "partner"),
          summary="An e-commerce order webhook (paid, refunded, cancelled), recorded once as an event",
          body=ORDERS("OrderWebhook"), answer=MEMBERS("EventResult"), status=201, also=(200,), audit="ledger")
def order_webhook(call: Call):
    result, replayed = order_webhooks.record_order(call.org_id, call.params["program_id"], call.body.model_dump())
    return (200 if replayed else 201), result


# --- rewards ---------------------------------------------------------------------------------

@endpoint(app, "POST", P + "/rewards", roles=ADMIN, summary="Add a reward to the catalog", body=REWARDS("RewardCreate"),
          answer=REWARDS("Reward"), status=201)
def create_reward(call: Call):
    return catalog.create(call.org_id, call.params["program_id"], call.body.model_dump(exclude_none=True))


LOCALE_QUERY = ("locale", "Read names and descriptions in this language tag (else the member's, else the program's)",
                {"pattern": locales.LOCALE, "maxLength": locales.MAX_TAG})
FLAG = {"enum": list(pagination.FLAGS)}
FORMAT_QUERY = ("format", "json (the default) or csv: the same report as a sheet", {"enum": ["json", "csv"]})


def reader_of(call: Call) -> "catalog.Reader":
    """Who reads the catalog, and in which language they asked to."""
    principal = call.principal
    return catalog.Reader(staff=principal.kind == "key" and principal.role in READERS,
                          external_id=principal.external_id if principal.kind == "member" else None,
                          locale=locales.requested(call.query))


@endpoint(app, "GET", P + "/rewards", roles=CATALOG_READERS, summary="The active rewards", answer=REWARDS("RewardList"),
          paged=True, query=(LOCALE_QUERY,))
def list_rewards(call: Call):
    return catalog.list_active(call.org_id, program_of(call), call.query, reader_of(call))


@endpoint(app, "GET", P + "/rewards/{reward_id}", roles=CATALOG_READERS, summary="A reward", answer=REWARDS("Reward"),
          query=(LOCALE_QUERY,))
def get_reward(call: Call):
    return catalog.get(call.org_id, program_of(call), call.params["reward_id"], reader_of(call))


@endpoint(app, "GET", M + "/catalog", roles=MEMBER_READERS,
          summary="The active rewards as this member sees them: eligible or why not, affordable or how many points "
                  "short", answer=REWARDS("CatalogList"), paged=True,
          query=(LOCALE_QUERY, ("eligible", "true or false: only the rewards the member may (or may not) redeem", FLAG),
                 ("affordable", "true or false: only the rewards the member has (or lacks) the points for", FLAG),
                 ("order", "recommended: best first for this member, from what members who redeemed the same rewards "
                           "redeemed and how nearly the member can afford each (left out: the catalog's own order)",
                  {"enum": ["recommended"]})))
def member_catalog(call: Call):
    return catalog.member_catalog(call.org_id, *member_of(call), call.query, reader_of(call))


@endpoint(app, "PATCH", P + "/rewards/{reward_id}", roles=ADMIN, summary="Change a reward",
          body=REWARDS("RewardUpdate"), answer=REWARDS("Reward"))
def update_reward(call: Call):
    return catalog.update(call.org_id, call.params["program_id"], call.params["reward_id"],
                          call.body.model_dump(exclude_unset=True))


@endpoint(app, "GET", P + "/charities", roles=CATALOG_READERS,
          summary="The charities the program's donations give to, with the points donated to each",
          answer=REWARDS("CharityList"), paged=True)
def list_charities(call: Call):
    return donation.list_(call.org_id, program_of(call), call.query)


@endpoint(app, "POST", P + "/rewards/{reward_id}/codes", roles=ADMIN, summary="Add gift-card codes",
          body=REWARDS("CodesAdd"), answer=REWARDS("CodesAdded"), status=201)
def add_codes(call: Call):
    return catalog.add_codes(call.org_id, call.params["program_id"], call.params["reward_id"], call.body.codes)


# --- redemptions -----------------------------------------------------------------------------

@endpoint(app, "POST", M + "/redemptions", roles=("admin", "store", "member"),
          summary="Redeem points for a reward (points taken at once, fulfilled asynchronously)",
          body=REWARDS("RedemptionCreate"), answer=REWARDS("Redemption"), status=202, idempotent=True)
def redeem(call: Call):
    result, replayed = redemptions.create(call.org_id, *member_of(call), call.body.model_dump(exclude_none=True),
                                          idempotency_key_of(call, "rdm"))
    return (200 if replayed else 202), result


def merchandise_only(call: Call) -> bool:
    """A fulfilment partner's key: merchandise is all it reaches (any other redemption is 404, as if absent)."""
    return call.principal.grants == "fulfilment"


def sight(call: Call) -> dict:
    """What the caller sees of a redemption: a gift card's codes (admins, the member's own session), a
    merchandise's shipping address (those, and fulfilment keys, which ship it)."""
    grants = call.principal.grants
    return {"show_secrets": grants in ("admin", "member"), "show_address": grants in ("admin", "member", "fulfilment")}


@endpoint(app, "GET", P + "/redemptions/{redemption_id}", roles=("admin", "store", "analyst", "member", "fulfilment"),
          summary="A redemption and its fulfilment (a merchandise's shipping address to admins, the member's own "
                  "session and fulfilment keys, which read merchandise only)", answer=REWARDS("Redemption"),
          audit="personal")
def get_redemption(call: Call):
    principal = call.principal
    return redemptions.get(call.org_id, program_of(call), call.params["redemption_id"],
                           external_id=principal.external_id if principal.kind == "member" else None,
                           reward_type=merchandise.KIND if merchandise_only(call) else None, **sight(call))


@endpoint(app, "GET", M + "/redemptions", roles=MEMBER_READERS,
          summary="A member's redemptions, newest first, each as GET .../redemptions/{redemption_id} shows it to the "
                  "caller", answer=REWARDS("RedemptionList"), paged=True,
          query=(("status", "Only the redemptions in this status, of each page (a page may then hold fewer than "
                            "limit and still carry a next_cursor)", {"enum": list(statuses.STATUSES)}),),
          audit="personal")
def member_redemptions(call: Call):
    program_id, external_id = member_of(call)
    membership.require(call.org_id, program_id, external_id, profile=False)
    return redemptions.of_member(program_id, external_id, call.query, **sight(call))


R = P + "/redemptions/{redemption_id}"


@endpoint(app, "GET", P + "/redemptions", roles=SHIPPERS, summary="The program's redemptions awaiting approval, "
          "or its merchandise waiting to ship, oldest first", answer=REWARDS("RedemptionList"), paged=True,
          query=(("status", "awaiting_approval (the default; admins only) or processing (merchandise waiting to "
                            "ship, with its address; the only one a fulfilment key may list)",
                 {"enum": list(statuses.QUEUES)}),), audit="personal")
def list_redemptions(call: Call):
    return review.list_(call.org_id, call.params["program_id"], call.query,
                                   merchandise_only=merchandise_only(call))


@endpoint(app, "POST", R + "/approve", roles=ADMIN,
          summary="Approve a redemption awaiting approval: it is fulfilled from now (409 if it is not awaiting)",
          answer=REWARDS("Redemption"))
def approve_redemption(call: Call):
    return review.approve(call.org_id, call.params["program_id"], call.params["redemption_id"])


@endpoint(app, "POST", R + "/reject", roles=ADMIN,
          summary="Reject a redemption awaiting approval: its points, stock and budget are given back once",
          body=REWARDS("RedemptionReject"), answer=REWARDS("Redemption"))
def reject_redemption(call: Call):
    return review.reject(call.org_id, call.params["program_id"], call.params["redemption_id"],
                                    call.body.reason)


@endpoint(app, "POST", R + "/cancel", roles=ADMIN,
          summary="Cancel a redemption not yet fulfilled: its points, stock and budget are given back once "
                  "(409 once fulfilled, failed or decided)",
          body=REWARDS("RedemptionCancel"), answer=REWARDS("Redemption"))
def cancel_redemption(call: Call):
    return review.cancel(call.org_id, call.params["program_id"], call.params["redemption_id"],
                                    call.body.reason)


# --- cash wallets and payouts ---------------------------------------------------------------

def sees_payout_methods(call: Call) -> bool:
    """Admins and the member's own session see a payout method in full; analysts see it masked."""
    return call.principal.kind == "member" or call.principal.role == "admin"


def session_member(call: Call) -> str | None:
    return call.principal.external_id if call.principal.kind == "member" else None


@endpoint(app, "GET", M + "/wallet", roles=("admin", "analyst", "member"),
          summary="A member's cash wallet: balances per currency and cash transactions, newest first",
          answer=PAYOUTS("CashWallet"), paged=True, audit="personal")
def get_cash_wallet(call: Call):
    program_id, external_id = member_of(call)
    membership.require(call.org_id, program_id, external_id, profile=False)
    return cash.view(program_id, external_id, call.query)


@endpoint(app, "POST", M + "/payouts", roles=("admin", "member"),
          summary="Request a payout from the cash wallet: the amount is reserved at once "
                  "(409 insufficient_funds beyond the balance)",
          body=PAYOUTS("PayoutCreate"), answer=PAYOUTS("Payout"), status=201, idempotent=True)
def request_payout(call: Call):
    result, replayed = payouts.request(call.org_id, *member_of(call), call.body.model_dump(),
                                       idempotency_key_of(call, "payout"),
                                       show_method=True)
    return (200 if replayed else 201), result


PO = P + "/payouts/{payout_id}"


@endpoint(app, "GET", P + "/payouts", roles=ADMIN, summary="The program's payouts awaiting approval, oldest first",
          answer=PAYOUTS("PayoutList"), paged=True, audit="personal")
def list_payouts(call: Call):
    return payouts.list_requested(call.org_id, call.params["program_id"], call.query)


@endpoint(app, "GET", PO, roles=("admin", "analyst", "member"),
          summary="A payout (its method masked to analysts)", answer=PAYOUTS("Payout"), audit="personal")
def get_payout(call: Call):
    return payouts.get(call.org_id, program_of(call), call.params["payout_id"], external_id=session_member(call),
                       show_method=sees_payout_methods(call))


@endpoint(app, "POST", PO + "/approve", roles=ADMIN,
          summary="Approve a requested payout (409 if it is not requested)", answer=PAYOUTS("Payout"))
def approve_payout(call: Call):
    return payouts.approve(call.org_id, call.params["program_id"], call.params["payout_id"])


@endpoint(app, "POST", PO + "/reject", roles=ADMIN,
          summary="Reject a requested or approved payout: its amount returns to the wallet once",
          body=PAYOUTS("PayoutReject"), answer=PAYOUTS("Payout"))
def reject_payout(call: Call):
    return payouts.reject(call.org_id, call.params["program_id"], call.params["payout_id"], call.body.reason)


@endpoint(app, "POST", PO + "/mark-paid", roles=ADMIN,
          summary="Mark an approved payout paid, once (409 if it is not approved: never paid twice)",
          body=PAYOUTS("PayoutPaid"), answer=PAYOUTS("Payout"))
def mark_payout_paid(call: Call):
    return payouts.mark_paid(call.org_id, call.params["program_id"], call.params["payout_id"],
                             call.body.external_reference)


@endpoint(app, "POST", PO + "/cancel", roles=("admin", "member"),
          summary="Cancel a payout still requested: its amount returns to the wallet once",
          body=PAYOUTS("PayoutCancel"), answer=PAYOUTS("Payout"))
def cancel_payout(call: Call):
    return payouts.cancel(call.org_id, program_of(call), call.params["payout_id"], call.body.reason,
                          external_id=session_member(call))


@endpoint(app, "POST", R + "/cancel-booking", roles=("admin", "member"),
          summary="Cancel an experience's booking before its cutoff: points given back and the seats freed once "
                  "(409 after the cutoff or once cancelled)", answer=REWARDS("Redemption"))
def cancel_booking(call: Call):
    principal = call.principal
    return review.cancel_booking(call.org_id, program_of(call), call.params["redemption_id"],
                                 principal.external_id if principal.kind == "member" else None)


@endpoint(app, "POST", R + "/shipment", roles=SHIPPERS,
          summary="Report a merchandise shipment: shipped (carrier, tracking), delivered, or returned (points given "
                  "back and restocked once); 409 from a status that does not lead there",
          body=REWARDS("ShipmentUpdate"), answer=REWARDS("Redemption"))
def report_shipment(call: Call):
    return review.report_shipment(call.org_id, call.params["program_id"], call.params["redemption_id"],
                                  call.body.model_dump(exclude_none=True), merchandise_only=merchandise_only(call))


@endpoint(app, "GET", P + "/budget", roles=READERS, summary="The program's money budget: amount, used and left",
          answer=REWARDS("ProgramBudget"))
def get_budget(call: Call):
    return budgets.view(call.org_id, call.params["program_id"])


# --- analytics -------------------------------------------------------------------------------

@endpoint(app, "GET", P + "/analytics", roles=READERS,
          summary="The program's points, redemptions, enrolments and active members over a range of days, by day or "
                  "by hour (aggregated from the table's change stream: seconds behind the ledger)",
          answer=INSIGHT("Analytics"),
          query=(("from", "First day, YYYY-MM-DD (UTC; default: 30 days before to, by day; to itself, by hour)",
                  {"format": "date"}),
                 ("to", "Last day, YYYY-MM-DD (UTC; default: today): at most 366 days by day, 31 by hour",
                  {"format": "date"}),
                 ("granularity", "day (the default) or hour", {"enum": ["day", "hour"]}), FORMAT_QUERY), sheet=True)
def get_analytics(call: Call):
    as_sheet = spreadsheets.wants_csv(call.query)
    answer = insight_report.analytics(call.org_id, call.params["program_id"], call.query)
    return spreadsheets.response(sheets.analytics_csv(answer), "analytics.csv") if as_sheet else answer


@endpoint(app, "GET", P + "/liability", roles=READERS,
          summary="What the program owes: outstanding points now and at every month end, the share its history "
                  "expects never to be redeemed (breakage) with the method and inputs, and both in money",
          answer=FINANCE("Liability"),
          query=(("point_value", "A point's value in minor units of currency (decimal, e.g. 0.5), with currency "
                                 "(default: the median value per point of the catalog's rewards)", {"type": "string"}),
                 ("currency", "The ISO 4217 code of point_value", {"pattern": "^[A-Z]{3}$"}), FORMAT_QUERY), sheet=True)
def get_liability(call: Call):
    as_sheet = spreadsheets.wants_csv(call.query)
    answer = finance.liability(call.org_id, call.params["program_id"], call.query)
    return spreadsheets.response(sheets.liability_csv(answer), "liability.csv") if as_sheet else answer


@endpoint(app, "GET", M + "/predictions", roles=READERS,
          summary="The member's probability of still being active, churn risk and expected active days, from its "
                  "active days and the program's churn model (MBG/NBD, refitted nightly)",
          answer=MEMBERS("Predictions"), audit="personal")
def get_predictions(call: Call):
    program_id, external_id = member_of(call)
    membership.require(call.org_id, program_id, external_id, profile=False)
    return predictions.for_member(program_id, external_id)


@endpoint(app, "GET", M + "/statement", roles=("admin", "analyst", "member"),
          summary="The member's statement as CSV: every ledger entry in a range of days, oldest first",
          query=(("from", "First day, YYYY-MM-DD (UTC; default: the first entry)", {"format": "date"}),
                 ("to", "Last day, YYYY-MM-DD (UTC; default: today)", {"format": "date"})), sheet=True,
          audit="personal")
def get_statement(call: Call):
    program_id, external_id = member_of(call)
    return spreadsheets.response(statement.statement_csv(call.org_id, program_id, external_id, call.query),
                                 f"statement-{external_id}.csv")


@endpoint(app, "GET", P + "/leaderboard", roles=("admin", "analyst", "member"),
          summary="The program's top members by available points or by points earned in a month, a day or ever, in "
                  "the whole program or among the members with an attribute value (a team); ties share a rank; "
                  "members who opted out (preferences: leaderboard.listed=false) never appear; a member session sees "
                  "names and points, never another member's id or contact details (kept from the table's change "
                  "stream: seconds behind the ledger)",
          answer=INSIGHT("Leaderboard"),
          query=(("by", "balance (available points, the default) or earned", {"enum": ["balance", "earned"]}),
                 ("period", "With by=earned: a month (YYYY-MM), a day (YYYY-MM-DD, UTC, the last 92 days) or all "
                            "(the default)"),
                 ("attribute", "Only the members whose attribute has this value, as name:value (exact; a value that "
                               "is not a string as JSON: level:3); a member's first 5 attributes by name count"),
                 ("limit", "Members per page, 1-100; up to 49 are read in 2 requests",
                  {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}),
                 ("cursor", "The next_cursor of the page before")))
def get_leaderboard(call: Call):
    program_id = program_of(call)
    viewer = call.principal.external_id if call.principal.kind == "member" else None
    return leaderboard_page.leaderboard(call.org_id, program_id, call.query, viewer)


# --- webhooks --------------------------------------------------------------------------------

@endpoint(app, "POST", W, roles=ADMIN, summary="Register a webhook endpoint (its signing secret is shown once)",
          body=WEBHOOKS("WebhookEndpointCreate"), answer=WEBHOOKS("WebhookEndpointCreated"), status=201)
def create_webhook_endpoint(call: Call):
    return endpoints.create(call.org_id, call.body.model_dump())


@endpoint(app, "GET", W, roles=ADMIN, summary="The organisation's webhook endpoints, without secrets",
          answer=WEBHOOKS("WebhookEndpointList"), paged=True)
def list_webhook_endpoints(call: Call):
    return endpoints.list_(call.org_id, call.query)


@endpoint(app, "GET", E, roles=ADMIN, summary="A webhook endpoint", answer=WEBHOOKS("WebhookEndpoint"))
def get_webhook_endpoint(call: Call):
    return endpoints.get(call.org_id, call.params["endpoint_id"])


@endpoint(app, "PATCH", E, roles=ADMIN, summary="Change a webhook endpoint: URL, kinds, program, enabled",
          body=WEBHOOKS("WebhookEndpointUpdate"), answer=WEBHOOKS("WebhookEndpoint"))
def update_webhook_endpoint(call: Call):
    return endpoints.update(call.org_id, call.params["endpoint_id"], call.body.model_dump(exclude_unset=True))


@endpoint(app, "DELETE", E, roles=ADMIN, summary="Delete a webhook endpoint (nothing more is sent to it)",
          status=204)
def delete_webhook_endpoint(call: Call):
    endpoints.delete(call.org_id, call.params["endpoint_id"])


@endpoint(app, "POST", E + "/secret", roles=ADMIN,
          summary="Rotate the signing secret (the new one is shown once; the old one also signs for 24 h)",
          answer=WEBHOOKS("WebhookSecret"), status=201)
def rotate_webhook_secret(call: Call):
    return endpoints.rotate_secret(call.org_id, call.params["endpoint_id"])


@endpoint(app, "POST", E + "/pings", roles=ADMIN, summary="Send a signed webhook.ping to test the receiver",
          answer=WEBHOOKS("WebhookDelivery"), status=202)
def ping_webhook_endpoint(call: Call):
    return events.ping(call.org_id, call.params["endpoint_id"])


@endpoint(app, "GET", E + "/deliveries", roles=ADMIN, summary="The endpoint's deliveries, newest first",
          answer=WEBHOOKS("WebhookDeliveryList"), paged=True)
def list_webhook_deliveries(call: Call):
    return deliveries.list_(call.org_id, call.params["endpoint_id"], call.query)


@endpoint(app, "GET", D, roles=ADMIN, summary="A webhook delivery: its status, tries and body",
          answer=WEBHOOKS("WebhookDelivery"), audit="personal")
def get_webhook_delivery(call: Call):
    return deliveries.get(call.org_id, call.params["endpoint_id"], call.params["delivery_id"])


@endpoint(app, "POST", D + "/replay", roles=ADMIN,
          summary="Send a delivered or failed delivery again (same event id: receivers dedupe)",
          answer=WEBHOOKS("WebhookDelivery"), status=202, also=(409,))
def replay_webhook_delivery(call: Call):
    return deliveries.replay(call.org_id, call.params["endpoint_id"], call.params["delivery_id"])


# --- communications --------------------------------------------------------------------------

@endpoint(app, "GET", P + "/templates", roles=READERS, summary="The program's own message templates",
          answer=MESSAGING("TemplateList"), paged=True)
def list_templates(call: Call):
    return program_templates.list_(call.org_id, call.params["program_id"], call.query)


@endpoint(app, "GET", T, roles=READERS,
          summary="The program's template for a kind and locale, or else the built-in one that locale gets",
          answer=MESSAGING("Template"))
def get_template(call: Call):
    return program_templates.get(call.org_id, call.params["program_id"], call.params["kind"], call.params["locale"])


@endpoint(app, "PUT", T, roles=ADMIN,
          summary="Write the program's template for a kind and locale (201 created, 200 replaced); a placeholder "
                  "the kind lacks is a 400", body=MESSAGING("TemplateUpsert"), answer=MESSAGING("Template"),
          status=201, also=(200,))
def put_template(call: Call):
    view, created = program_templates.put(call.org_id, call.params["program_id"], call.params["kind"],
                                       call.params["locale"], call.body.model_dump(exclude_none=True))
    return (201 if created else 200), view


@endpoint(app, "DELETE", T, roles=ADMIN, summary="Remove the program's template: the built-in one applies again",
          status=204)
def delete_template(call: Call):
    program_templates.delete(call.org_id, call.params["program_id"], call.params["kind"], call.params["locale"])


@endpoint(app, "POST", T + "/preview", roles=ADMIN,
          summary="A template (the draft sent, else the one in use) filled with sample values, and its SMS segments",
          body=MESSAGING("TemplateDraft"), answer=MESSAGING("TemplatePreview"))
def preview_template(call: Call):
    return program_templates.preview(call.org_id, call.params["program_id"], call.params["kind"],
                                  call.params["locale"], call.body.model_dump(exclude_none=True))


@endpoint(app, "GET", M + "/preferences", roles=("admin", "member"),
          summary="What the member receives: email and SMS, transactional and marketing",
          answer=MESSAGING("Preferences"), audit="personal")
def get_preferences(call: Call):
    return preferences.get(call.org_id, *member_of(call))


@endpoint(app, "PUT", M + "/preferences", roles=("admin", "member"),
          summary="Change what the member receives (fields left out keep their value)",
          body=MESSAGING("PreferencesUpdate"), answer=MESSAGING("Preferences"))
def put_preferences(call: Call):
    return preferences.update(call.org_id, *member_of(call), call.body.model_dump(exclude_unset=True),
                              via="member" if call.principal.kind == "member" else "admin")


@endpoint(app, "GET", M + "/messages", roles=READERS,
          summary="The member's messages, newest first: kind, channel and status, never text or address",
          answer=MESSAGING("MessageList"), paged=True, audit="personal")
def list_messages(call: Call):
    return message_log.list_(call.org_id, *member_of(call), call.query)


@endpoint(app, "POST", P + "/broadcasts", roles=ADMIN,
          summary="Announce something to a segment of the members, in paced batches", body=MESSAGING("BroadcastCreate"),
          answer=MESSAGING("Broadcast"), status=202, idempotent=True)
def create_broadcast(call: Call):
    view, replayed = broadcasts.create(call.org_id, call.params["program_id"], call.body.model_dump(mode="json"),
                                       call.idempotency_key)
    return (200 if replayed else 202), view


@endpoint(app, "GET", P + "/broadcasts/{broadcast_id}", roles=READERS, summary="A broadcast's progress and counts",
          answer=MESSAGING("Broadcast"))
def get_broadcast(call: Call):
    return broadcasts.get(call.org_id, call.params["program_id"], call.params["broadcast_id"])


@endpoint(app, "GET", "/v1/unsubscribe/{token}", roles=(),
          summary="The page an email's unsubscribe link opens (HTML): it asks, and changes nothing (404: a link "
                  "not ours or its member gone)", also=(404,))
def unsubscribe_page(call: Call):
    return unsubscribe_pages.ask(*preferences.unsubscribe_page(call.params["token"]))


@endpoint(app, "POST", "/v1/unsubscribe/{token}", roles=(),
          summary="Unsubscribe from marketing email, without a key (the link's own page, or one-click; HTML; 404: "
                  "a link not ours or its member gone)", content_types=FORMS, also=(404,))
def unsubscribe(call: Call):
    return unsubscribe_pages.done(*preferences.unsubscribe(call.params["token"]))
