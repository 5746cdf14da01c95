"""A member's redemptions ("my rewards"): newest first, paged, each as GET .../redemptions/{id} shows it to the
same caller (a gift card's code, a parcel's address), read from the member's ledger without an index of their own."""
import pytest
from given import enrol

ADDRESS = {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH",
           "country": "GB"}


def key(api, program, role) -> str:
    status, made = api.call("POST", "/v1/api-keys", program["admin"], {"name": role, "role": role})
    assert status == 201
    return made["secret"]


def session(api, program, member) -> str:
    status, opened = api.call("POST", f"{program['path']}/members/{member}/sessions", program["admin"], {})
    assert status == 201
    return opened["token"]


def listed(api, program, member, caller, query="") -> tuple[int, dict]:
    return api.call("GET", f"{program['path']}/members/{member}/redemptions{query}", caller)


def every_page(api, program, member, caller, query="") -> tuple[list[str], list[int]]:
    """Follow a member's list from `query` to its end: the ids seen, in order, and each page's size."""
    seen, sizes, cursor = [], [], None
    while True:
        status, page = listed(api, program, member, caller, query + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, page
        seen += [item["id"] for item in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, sizes


def redeem(api, program, reward_id, idempotency_key, member="ada", **body) -> str:
    status, made = api.call("POST", f"{program['path']}/members/{member}/redemptions", program["admin"],
                            {"reward_id": reward_id, **body}, {"Idempotency-Key": idempotency_key})
    assert status == 202, made
    return made["id"]


@pytest.fixture
def shop(stack, api, program):
    """Ada's redemptions, oldest first: a gift card (fulfilled with its code), a mug (processing, with its
    address), a cashback cancelled by an admin before fulfilment, and a second gift card (fulfilled); adjustments
    between them in her ledger. Bea has a redemption of her own."""
    path, admin = program["path"], program["admin"]
    enrol(api, program, "ada", points=5000)
    enrol(api, program, "bea", points=1000, key="welcome-bea")
    gift = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Books", "cost": 100})[1]["id"]
    assert api.call("POST", f"{path}/rewards/{gift}/codes", admin, {"codes": ["BOOK-1", "BOOK-2", "BOOK-3"]})[0] == 201
    mug = api.call("POST", f"{path}/rewards", admin, {"type": "merchandise", "name": "Mug", "cost": 300})[1]["id"]
    cash = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "Cash", "cost": 200})[1]["id"]
    first = redeem(api, program, gift, "gift-1")
    stack.pump("FulfilmentFunction")
    mugged = redeem(api, program, mug, "mug", delivery={"address": ADDRESS})
    stack.pump("FulfilmentFunction")
    assert api.call("POST", f"{path}/members/ada/adjustments", admin, {"points": 5, "reason": "sorry"},
                    {"Idempotency-Key": "between"})[0] == 201
    cancelled = redeem(api, program, cash, "cash")
    assert api.call("POST", f"{path}/redemptions/{cancelled}/cancel", admin, {"reason": "Out of cash"})[0] == 200
    last = redeem(api, program, gift, "gift-2")
    stack.pump("FulfilmentFunction")
    bea = redeem(api, program, gift, "gift-bea", member="bea")
    stack.pump("FulfilmentFunction")
    return {**program, "newest_first": [last, cancelled, mugged, first], "bea": bea}


def test_a_members_redemptions_are_listed_newest_first_each_as_its_own_get_answers(api, shop):
    # Given Ada's four redemptions, with adjustments and a refund between them in her ledger
    admin = shop["admin"]
    # When the admin lists them
    status, page = listed(api, shop, "ada", admin)
    # Then all four are there once, newest first, each exactly as GET .../redemptions/{id} answers the admin
    assert status == 200 and page["next_cursor"] is None
    assert [item["id"] for item in page["items"]] == shop["newest_first"]
    assert page["items"] == [api.call("GET", f"{shop['path']}/redemptions/{id_}", admin)[1]
                             for id_ in shop["newest_first"]]
    # And the cancelled one is listed once, with its final status and reason (its refund entry adds nothing)
    cancelled = page["items"][1]
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "Out of cash")
    kinds = [t["kind"] for t in api.call("GET", f"{shop['path']}/members/ada/transactions", admin)[1]["items"]]
    assert kinds.count("refund") == 1 and kinds.count("redeem") == 4


def test_the_list_pages_with_its_own_cursors(api, shop):
    # Given Ada's four redemptions
    admin = shop["admin"]
    # When the admin reads them three at a time
    seen, sizes = every_page(api, shop, "ada", admin, "?limit=3")
    # Then each comes once, newest first, in full pages (the entries between redemptions are skipped)
    assert seen == shop["newest_first"] and sizes == [3, 1]
    # And a cursor of Ada's list is refused on Bea's, on Ada's transactions and on her catalog
    cursor = listed(api, shop, "ada", admin, "?limit=1")[1]["next_cursor"]
    for path in ("bea/redemptions", "ada/transactions", "ada/catalog"):
        status, refused = api.call("GET", f"{shop['path']}/members/{path}?cursor={cursor}", admin)
        assert (status, refused["error"]["details"]["field"]) == (400, "cursor"), path
    # And a cursor of Ada's transactions (the same index partition) is refused on her redemptions
    transactions = api.call("GET", f"{shop['path']}/members/ada/transactions?limit=1", admin)[1]["next_cursor"]
    assert listed(api, shop, "ada", admin, f"?cursor={transactions}")[0] == 400


def test_codes_and_the_address_only_to_admins_and_the_members_own_session(api, shop):
    # Given Ada's fulfilled gift cards and her mug, and every role that may list them
    callers = {"admin": shop["admin"], "member": session(api, shop, "ada"),
               **{role: key(api, shop, role) for role in ("store", "analyst")}}
    # When each lists Ada's redemptions
    pages = {role: listed(api, shop, "ada", caller) for role, caller in callers.items()}
    # Then each reads all four, and only the admin and Ada's own session see the codes and the address
    assert {role: status for role, (status, _) in pages.items()} == dict.fromkeys(callers, 200)
    for role, (_, page) in pages.items():
        by_id = {item["id"]: item for item in page["items"]}
        last, _, mug, first = (by_id[id_] for id_ in shop["newest_first"])
        if role in ("admin", "member"):
            assert all(item["fulfillment"]["code"].startswith("BOOK-") for item in (first, last)), role
            assert mug["delivery"] == {"address": ADDRESS}, role
        else:
            assert [item["fulfillment"] for item in (first, last)] == [{"type": "gift_card"}] * 2, role
            assert "delivery" not in mug, role


def test_the_status_filter_keeps_the_matching_ones_of_each_page(api, shop):
    # Given Ada's redemptions: two fulfilled, one processing, one cancelled
    admin = shop["admin"]
    # When the admin lists the fulfilled ones, all at once and a page of two at a time
    fulfilled = listed(api, shop, "ada", admin, "?status=fulfilled")[1]
    first = listed(api, shop, "ada", admin, "?status=cancelled&limit=1")[1]
    # Then the fulfilled are the two gift cards, newest first
    newest_first = shop["newest_first"]
    assert [item["id"] for item in fulfilled["items"]] == [newest_first[0], newest_first[3]]
    # And a filtered page may hold fewer than its limit and still go on: the newest is no cancelled one
    assert first["items"] == [] and first["next_cursor"]
    second = listed(api, shop, "ada", admin, f"?status=cancelled&limit=1&cursor={first['next_cursor']}")[1]
    assert [item["id"] for item in second["items"]] == [newest_first[1]]
    # And an unknown status is a 400 naming it
    status, refused = listed(api, shop, "ada", admin, "?status=lost")
    assert (status, refused["error"]["details"]["field"]) == (400, "status")


def test_only_the_members_own_session_and_the_lists_readers_reach_it(api, shop):
    # Given Bea's session, a partner key and a fulfilment key
    bea = session(api, shop, "bea")
    partner, fulfilment = key(api, shop, "partner"), key(api, shop, "fulfilment")
    # When each lists Ada's redemptions
    # Then Bea's session is 404 revealing nothing, the partner and the fulfilment partner 403
    status, refused = listed(api, shop, "ada", bea)
    assert (status, refused["error"]["code"]) == (404, "not_found")
    assert listed(api, shop, "ada", partner)[0] == 403
    assert listed(api, shop, "ada", fulfilment)[0] == 403
    # And Bea reads her own, which is hers alone
    assert [item["id"] for item in listed(api, shop, "bea", bea)[1]["items"]] == [shop["bea"]]
    # And an unknown member is 404, and a member without redemptions has an empty list
    assert listed(api, shop, "nobody", shop["admin"])[0] == 404
    enrol(api, shop, "cleo", points=10, key="welcome-cleo")
    assert listed(api, shop, "cleo", shop["admin"]) == (200, {"items": [], "next_cursor": None})


def test_a_page_reads_a_bounded_stretch_of_the_ledger_and_stops_short_with_a_cursor(api, shop, monkeypatch):
    # Given Ada's seven ledger entries (four redemptions, a refund and two adjustments), and pages that may read
    # one Query of two entries (table.FILTERED_READS of table.FILTERED_READ_SIZE, 5 of 100 when deployed)
    from chalicelib.core.db import table

    monkeypatch.setattr(table, "FILTERED_READS", 1)
    monkeypatch.setattr(table, "FILTERED_READ_SIZE", 2)
    # When the admin reads her redemptions, following every cursor
    seen, sizes = every_page(api, shop, "ada", shop["admin"], "?limit=50")
    # Then each page stopped after two entries with what they held (the last held only the first adjustment),
    # and together they list every redemption once, newest first
    assert sizes == [1, 1, 2, 0]
    assert seen == shop["newest_first"]
