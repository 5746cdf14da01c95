"""Experiences through the API: a slot booked with the points, never past its capacity even when members
race for the last seats; a booking cancelled (by its member or an admin) before the cutoff gives the points
back and frees the seat once; after the cutoff, 409."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chalicelib.core import clock

MEMBERS = [f"m{n}" for n in range(8)]


def at(hours: float) -> str:
    return clock.iso(clock.now() + timedelta(hours=hours))


@pytest.fixture
def tour(api, program):
    """Members with 500 points each; a 200-point tour with a slot in 3 days (3 seats) and one in 2 hours (5),
    cancellable until 24 hours before."""
    path, admin = program["path"], program["admin"]
    for member in MEMBERS:
        assert api.call("PUT", f"{path}/members/{member}", admin, {"name": member})[0] == 201
        api.call("POST", f"{path}/members/{member}/adjustments", admin, {"points": 500, "reason": "x"},
                 {"Idempotency-Key": f"seed-{member}"})
    status, reward = api.call("POST", f"{path}/rewards", admin, {
        "type": "experience", "name": "Vineyard tour", "cost": 200, "cancel_cutoff_hours": 24,
        "slots": [{"id": "later", "starts_at": at(72), "capacity": 3},
                  {"id": "soon", "starts_at": at(2), "capacity": 5}]})
    assert status == 201, reward
    return {**program, "reward": reward["id"]}


def book(api, tour, member, slot, key=None):
    return api.call("POST", f"{tour['path']}/members/{member}/redemptions", tour["admin"],
                    {"reward_id": tour["reward"], "slot_id": slot}, {"Idempotency-Key": key or f"{member}-{slot}"})


def seats(api, tour):
    reward = api.call("GET", f"{tour['path']}/rewards/{tour['reward']}", tour["admin"])[1]
    return {slot["id"]: slot["booked"] for slot in reward["slots"]}


def balance(api, tour, member):
    return api.call("GET", f"{tour['path']}/members/{member}/balance", tour["admin"])[1]["available"]


def test_an_experience_needs_slots_and_a_booking_names_one(api, program, tour):
    path, admin = program["path"], program["admin"]
    # When a gift card has slots, or a booking names no slot or an unknown one
    card = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Card", "cost": 10, "slots": [
        {"id": "a", "starts_at": at(5), "capacity": 1}]})
    none, unknown = book(api, tour, "m0", None, "n"), book(api, tour, "m0", "nope", "u")
    # Then each is a 400 naming the field, and nothing is taken
    assert [(s, b["error"]["details"]["field"]) for s, b in (card, none, unknown)] == [
        (400, "slots"), (400, "slot_id"), (400, "slot_id")]
    assert balance(api, tour, "m0") == 500
    # And an experience as the contract has it (no slots) is taken: there is nothing to book
    assert api.call("POST", f"{path}/rewards", admin, {"type": "experience", "name": "Tour", "cost": 10})[0] == 201


def test_the_last_seats_go_to_exactly_as_many_members_as_they_seat(api, tour):
    # When eight members race for the three seats of a slot
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda member: book(api, tour, member, "later"), MEMBERS))
    # Then exactly three are booked, the others are refused as fully booked, and no points are lost
    won = [member for member, (status, _) in zip(MEMBERS, answers) if status == 202]
    assert len(won) == 3
    assert sorted({(s, b["error"]["code"]) for s, b in answers if s != 202}) == [(409, "fully_booked")]
    assert seats(api, tour) == {"later": 3, "soon": 0}
    assert {member: balance(api, tour, member) for member in MEMBERS} == {
        member: 300 if member in won else 500 for member in MEMBERS}


def test_a_booking_cancelled_before_the_cutoff_refunds_and_frees_the_seat_once(stack, api, tour):
    # Given a fulfilled booking of the slot in 3 days
    made = book(api, tour, "m0", "later")[1]
    stack.pump("FulfilmentFunction")
    done = api.call("GET", f"{tour['path']}/redemptions/{made['id']}", tour["admin"])[1]
    assert (done["status"], done["fulfillment"]["slot_id"]) == ("fulfilled", "later")
    session = api.call("POST", f"{tour['path']}/members/m0/sessions", tour["admin"], {})[1]["token"]
    other = api.call("POST", f"{tour['path']}/members/m1/sessions", tour["admin"], {})[1]["token"]
    path = f"{tour['path']}/redemptions/{made['id']}/cancel-booking"
    # When another member tries to cancel it, then its member cancels it, then an admin does too
    stranger = api.call("POST", path, other, {})
    first, again = api.call("POST", path, session, {}), api.call("POST", path, tour["admin"], {})
    # Then the stranger finds nothing, the first cancels with points and seat back, the second is 409
    assert stranger[0] == 404
    assert (first[0], first[1]["status"]) == (200, "cancelled")
    assert (again[0], again[1]["error"]["details"]) == (409, {"status": "cancelled"})
    assert (balance(api, tour, "m0"), seats(api, tour)["later"]) == (500, 0)


def test_a_booking_after_the_cutoff_cannot_be_cancelled(stack, api, tour):
    # Given a booking of the slot starting in 2 hours (the cutoff, 24 hours before, has passed)
    made = book(api, tour, "m0", "soon")[1]
    stack.pump("FulfilmentFunction")
    # When the admin cancels it, Then 409 and nothing moves
    status, error = api.call("POST", f"{tour['path']}/redemptions/{made['id']}/cancel-booking", tour["admin"], {})
    assert (status, error["error"]["code"]) == (409, "cancel_cutoff_passed")
    assert (balance(api, tour, "m0"), seats(api, tour)["soon"]) == (300, 1)


def test_a_pending_booking_cancelled_by_an_admin_frees_its_seat(stack, api, tour):
    # Given a pending booking cancelled by the admin's ordinary cancel (not yet fulfilled)
    made = book(api, tour, "m2", "soon")[1]
    status, cancelled = api.call("POST", f"{tour['path']}/redemptions/{made['id']}/cancel", tour["admin"], {})
    # Then the seat is free again, once
    assert (status, cancelled["status"], seats(api, tour)["soon"], balance(api, tour, "m2")) == (
        200, "cancelled", 0, 500)


def test_a_slot_that_has_started_cannot_be_booked(api, program, tour):
    # Given a tour whose only slot started an hour ago
    path, admin = program["path"], program["admin"]
    status, past = api.call("POST", f"{path}/rewards", admin, {
        "type": "experience", "name": "Morning walk", "cost": 200,
        "slots": [{"id": "dawn", "starts_at": at(-1), "capacity": 5}]})
    assert status == 201, past
    # When a member books it
    status, error = api.call("POST", f"{path}/members/m0/redemptions", admin, {"reward_id": past["id"],
                                                                              "slot_id": "dawn"},
                             {"Idempotency-Key": "m0-dawn"})
    # Then it is refused naming the slot and its start, and takes no seat and no points
    assert (status, error["error"]["code"]) == (409, "slot_started")
    assert error["error"]["details"] == {"slot_id": "dawn", "starts_at": past["slots"][0]["starts_at"]}
    reward = api.call("GET", f"{path}/rewards/{past['id']}", admin)[1]
    assert ([slot["booked"] for slot in reward["slots"]], balance(api, tour, "m0")) == ([0], 500)


def test_a_booking_awaiting_approval_cannot_be_approved_once_its_slot_has_started(monkeypatch, api, tour):
    # Given bookings above 100 points wait for approval, and m0 booked the slot starting in 2 hours
    path, admin = tour["path"], tour["admin"]
    assert api.call("PATCH", path, admin, {"redemption_policy": {"approval_above_points": 100}})[0] == 200
    status, booking = book(api, tour, "m0", "soon")
    assert (status, booking["status"]) == (202, "awaiting_approval"), booking
    # When the admin approves it only after the slot has started
    started = clock.now() + timedelta(hours=3)
    monkeypatch.setattr(clock, "now", lambda: started)
    status, error = api.call("POST", f"{path}/redemptions/{booking['id']}/approve", admin, {})
    # Then the approval is refused naming the slot, and a rejection still gives points and seat back
    assert (status, error["error"]["code"]) == (409, "slot_started"), error
    assert error["error"]["details"]["slot_id"] == "soon"
    status, rejected = api.call("POST", f"{path}/redemptions/{booking['id']}/reject", admin, {"reason": "too late"})
    assert (status, rejected["status"]) == (200, "rejected"), rejected
    assert (seats(api, tour)["soon"], balance(api, tour, "m0")) == (0, 500)
