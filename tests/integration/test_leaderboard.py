"""A program's leaderboards through the local stack's stream consumer: top members by balance and by points earned
in a month, a day or ever, per attribute value, ties sharing a rank, paged; opted-out members never appear; two
requests for a page, and nothing added to the earn's own write."""
import uuid
from urllib.parse import quote

import boto3
import pytest
from test_analytics import catch_up, invoke, unread_records
from test_member_directory import dynamodb_requests, other_program  # noqa: F401 (a fixture)

from chalicelib.core import clock, db

pytestmark = pytest.mark.usefixtures("fresh_stream")  # each test reads its own records of the stream


def board(api, program, key=None, **query) -> tuple[int, dict]:
    text = "&".join(f"{name}={quote(str(value), safe='')}" for name, value in query.items())
    return api.call("GET", f"{program['path']}/leaderboard" + (f"?{text}" if text else ""), key or program["admin"])


def top(api, program, **query) -> list[tuple]:
    status, answer = board(api, program, **query)
    assert status == 200, answer
    return [(item["rank"], item["external_id"], item["points"]) for item in answer["items"]]


def put(api, program, external_id: str, **profile) -> None:
    status, answer = api.call("PUT", f"{program['path']}/members/{external_id}", program["admin"], profile)
    assert status in (200, 201), answer


def credit(api, program, external_id: str, points: int) -> None:
    status, answer = api.call("POST", f"{program['path']}/members/{external_id}/adjustments", program["admin"],
                              {"points": points, "reason": "by hand"}, {"Idempotency-Key": uuid.uuid4().hex})
    assert status in (200, 201), answer


def redeem_points(api, program, external_id: str, points: int) -> None:
    credit(api, program, external_id, -points)


def prefer(api, program, external_id: str, listed: bool) -> dict:
    status, answer = api.call("PUT", f"{program['path']}/members/{external_id}/preferences", program["admin"],
                              {"leaderboard": {"listed": listed}})
    assert status == 200, answer
    return answer


def today() -> str:
    return clock.day(clock.now())


@pytest.fixture
def team(stack, api, program) -> dict:
    """Four members: ada (eng) 500, bo (eng) 300, cy (ops) 300, dee (no team) 100; bo then debited 200."""
    put(api, program, "ada", name="Ada", email="ada@example.com", attributes={"team": "eng"})
    put(api, program, "bo", name="Bo", attributes={"team": "eng", "level": 3})
    put(api, program, "cy", name="Cy", attributes={"team": "ops"})
    put(api, program, "dee", name="Dee")
    for member, points in (("ada", 500), ("bo", 300), ("cy", 300), ("dee", 100)):
        credit(api, program, member, points)
    redeem_points(api, program, "bo", 200)
    catch_up(stack)
    return program


def test_top_members_by_balance_and_by_points_earned(stack, api, team):
    # By balance: bo's debit counts; by points earned (ever, this month, today) it does not
    assert top(api, team, by="balance") == [(1, "ada", 500), (2, "cy", 300), (3, "bo", 100), (3, "dee", 100)]
    earned = [(1, "ada", 500), (2, "bo", 300), (2, "cy", 300), (4, "dee", 100)]
    assert top(api, team, by="earned") == earned
    assert top(api, team, by="earned", period="all") == earned
    assert top(api, team, by="earned", period=today()[:7]) == earned
    assert top(api, team, by="earned", period=today()) == earned
    # another month and another day have nobody
    assert top(api, team, by="earned", period="2020-01") == []
    status, answer = board(api, team)
    assert answer["by"] == "balance" and answer["items"][0] == {"rank": 1, "external_id": "ada", "name": "Ada",
                                                                "points": 500, "you": False}


def test_a_team_has_a_board_of_its_own_and_a_move_changes_teams(stack, api, team):
    assert top(api, team, by="earned", attribute="team:eng") == [(1, "ada", 500), (2, "bo", 300)]
    assert top(api, team, attribute="team:ops") == [(1, "cy", 300)]
    assert top(api, team, attribute="level:3") == [(1, "bo", 100)]  # a number, as JSON
    assert top(api, team, attribute="team:sales") == []
    # When cy moves to eng and earns
    put(api, team, "cy", attributes={"team": "eng"})
    credit(api, team, "cy", 50)
    catch_up(stack)
    # Then cy's places, past and new, are eng's and no longer ops'
    assert top(api, team, by="earned", attribute="team:eng") == [(1, "ada", 500), (2, "cy", 350), (3, "bo", 300)]
    assert top(api, team, by="earned", period=today(), attribute="team:ops") == []
    assert top(api, team, attribute="team:eng") == [(1, "ada", 500), (2, "cy", 350), (3, "bo", 100)]


def test_an_opted_out_member_never_appears_and_reappears_when_back(stack, api, team):
    # When ada opts out (in her preferences)
    answer = prefer(api, team, "ada", False)
    assert answer["leaderboard"] == {"listed": False}
    # Then she is gone from every board at once, even before the stream moved her places
    assert "ada" not in [member for _, member, _ in top(api, team)]
    catch_up(stack)
    for query in ({}, {"by": "earned"}, {"by": "earned", "period": today()}, {"attribute": "team:eng"}):
        assert "ada" not in [member for _, member, _ in top(api, team, **query)]
    assert top(api, team, by="earned")[:2] == [(1, "bo", 300), (1, "cy", 300)]
    # her places left the index, and earning keeps them off it
    credit(api, team, "ada", 1000)
    catch_up(stack)
    assert "ada" not in [member for _, member, _ in top(api, team, by="earned")]
    places = boto3.client("dynamodb").query(
        TableName=db.Item.Meta.table_name, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": f"LB#{team['id']}#ada"}})["Items"]
    assert places and all("gsi3pk" not in item for item in places)
    # When she opts back in, she is back with all she earned meanwhile
    prefer(api, team, "ada", True)
    catch_up(stack)
    assert top(api, team, by="earned")[0] == (1, "ada", 1500)
    assert top(api, team, attribute="team:eng")[0] == (1, "ada", 1500)


def test_pages_keep_the_ranks_of_ties(stack, api, team):
    status, first = board(api, team, by="earned", limit=2)
    assert status == 200 and [(i["rank"], i["external_id"]) for i in first["items"]] == [(1, "ada"), (2, "bo")]
    pages, cursor = [first], first["next_cursor"]
    while cursor:  # the last page may come back empty with no cursor (DynamoDB) or hold the last two (moto)
        status, page = board(api, team, by="earned", limit=2, cursor=cursor)
        assert status == 200 and len(pages) < 3
        pages.append(page)
        cursor = page["next_cursor"]
    ranked = [(i["rank"], i["external_id"]) for page in pages[1:] for i in page["items"]]
    assert ranked == [(2, "cy"), (4, "dee")]
    # a cursor of another board is refused
    status, answer = board(api, team, by="balance", limit=2, cursor=first["next_cursor"])
    assert status == 400 and answer["error"]["details"] == {"field": "cursor"}


def test_a_page_is_two_requests_and_the_earn_stays_its_two(stack, api, team):
    with dynamodb_requests() as made:
        assert len(top(api, team, by="earned", limit=10)) == 4
    assert made == ["Query", "BatchGetItem"]
    # an earn of an existing member is still its read and one transaction: the leaderboard is the stream's
    with dynamodb_requests() as made:
        status, _ = api.call("POST", f"{team['path']}/events", team["admin"],
                             {"id": "p-1", "type": "purchase", "member": "dee", "properties": {"amount": 10000}})
    assert status == 201 and made == ["BatchGetItem", "TransactWriteItems"]


def test_a_redelivered_batch_adds_nothing(stack, api, team):
    credit(api, team, "dee", 900)
    records = unread_records(stack)
    catch_up(stack)
    before = top(api, team, by="earned"), top(api, team)
    assert before[0][0] == (1, "dee", 1000)
    assert invoke(stack, records) == {"batchItemFailures": []}
    assert (top(api, team, by="earned"), top(api, team)) == before


def test_a_member_session_sees_names_and_points_not_ids(stack, api, team):
    status, session = api.call("POST", f"{team['path']}/members/bo/sessions", team["admin"], {"ttl_seconds": 600})
    assert status == 201
    status, answer = board(api, team, session["token"], by="earned")
    assert status == 200
    assert [(i["rank"], i["external_id"], i["name"], i["you"]) for i in answer["items"]] == [
        (1, None, "Ada", False), (2, "bo", "Bo", True), (2, None, "Cy", False), (4, None, "Dee", False)]
    assert "ada@example.com" not in str(answer)


def test_another_organisation_finds_nothing(stack, api, team, other_program):  # noqa: F811
    status, answer = board(api, team, other_program["admin"])
    assert status == 404 and answer["error"]["code"] == "not_found"


@pytest.mark.parametrize("query, field", [
    ({"by": "points"}, "by"), ({"by": "earned", "period": "2026-13"}, "period"),
    ({"by": "earned", "period": "last-week"}, "period"), ({"by": "earned", "period": "2020-01-01"}, "period"),
    ({"by": "balance", "period": "all"}, "period"), ({"attribute": "team"}, "attribute"),
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"sort": "asc"}, "sort"), ({"cursor": "x.y"}, "cursor")])
def test_a_bad_parameter_is_a_400_that_says_which(stack, api, program, query, field):
    status, answer = board(api, program, **query)
    assert status == 400, answer
    assert answer["error"]["code"] == "validation_error" and answer["error"]["details"] == {"field": field}


def test_after_a_random_workload_the_boards_equal_the_accounts_and_the_ledger(stack, api):
    from random import Random

    from test_analytics import analytics, random_workload, shop
    program = shop(api)
    members = random_workload(api, program, Random(14), 80)
    records = unread_records(stack)
    catch_up(stack)
    balances = {m: answer["available"] for m in set(members)
                for status, answer in [api.call("GET", f"{program['path']}/members/{m}/balance", program["admin"])]
                if status == 200}
    assert {member: points for _, member, points in top(api, program, limit=100)} == balances
    # the whole workload's entries redelivered late: the earned boards add nothing
    assert invoke(stack, [r for r in records if r["dynamodb"]["NewImage"].get("_t", {}).get("S") == "entry"
                          if "NewImage" in r["dynamodb"]]) == {"batchItemFailures": []}
    earned = {member: points for _, member, points in top(api, program, by="earned", limit=100)}
    assert sum(earned.values()) == analytics(api, program, today())["totals"]["issued"]
