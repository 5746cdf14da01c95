"""Live analytics through the local stack's stream consumer: the table's change stream, AnalyticsFunction with
Lambda's partial batch semantics, and GET .../analytics; the totals reconcile exactly with the ledger."""
import json
import os
from collections import Counter

from chalicelib.core import clock
from chalicelib.insight import aggregates
from local import lambda_runtime

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]
ADDRESS = {"name": "Bo", "line1": "1 High St", "city": "London", "postal_code": "N1 1AA", "country": "GB"}


def analytics_stream(stack) -> lambda_runtime.StreamPoller:
    return next(s for s in stack.runtime.streams if s.trigger.function.logical_id == "AnalyticsFunction")


def catch_up(stack) -> int:
    """Let AnalyticsFunction read the stream to its end, as Lambda would."""
    poller, handled = analytics_stream(stack), 0
    while count := poller.poll_once():
        handled += count
    return handled


def analytics(api, program, first, last=None, granularity="day"):
    status, answer = api.call("GET", f"{program['path']}/analytics?from={first}&to={last or first}"
                                      f"&granularity={granularity}", program["admin"])
    assert status == 200, answer
    return answer


def today() -> str:
    return clock.day(clock.now())


def test_an_earn_shows_up_in_the_hour_and_day_it_happened(stack, api, program):
    # Given a member enrolled by a purchase worth 1,250 points
    status, _ = api.call("POST", f"{program['path']}/events", program["admin"],
                         {"id": "p-1", "type": "purchase", "member": "ann", "properties": {"amount": 125000}})
    assert status == 201
    # When the stream is read
    catch_up(stack)
    # Then the day and its hour show the points, the enrolment and one active member
    day = analytics(api, program, today())
    assert {k: day["totals"][k] for k in ("issued", "issued_rules", "enrolled", "active_members")} == {
        "issued": 1250, "issued_rules": 1250, "enrolled": 1, "active_members": 1}
    hours = analytics(api, program, today(), granularity="hour")
    assert len(hours["series"]) == 24 and hours["totals"]["issued"] == 1250
    assert [row["period"] for row in hours["series"] if row["issued"]] == [clock.now().strftime("%Y-%m-%dT%H")]


def test_a_failed_record_is_retried_from_its_sequence_number_and_counted_once(stack, api, program, monkeypatch):
    # Given three earns, and a record that fails the first time it is counted
    catch_up(stack)
    for n in range(3):
        api.call("POST", f"{program['path']}/events", program["admin"],
                 {"id": f"e-{n}", "type": "signup", "member": f"m-{n}"})
    tries, count = Counter(), aggregates.count

    def flaky(change):
        tries[change.marker] += 1
        if change.marker.endswith("#evt#e-1") and tries[change.marker] == 1:
            raise RuntimeError("throttled")
        return count(change)

    monkeypatch.setattr(aggregates, "count", flaky)
    # When the stream is read (the batch reports e-1's record failed; Lambda retries from it)
    catch_up(stack)
    # Then every record counted once: e-1's twice tried, the others once, nothing counted twice
    marker = next(m for m in tries if m.endswith("#evt#e-1"))
    assert tries[marker] == 2
    assert analytics(api, program, today())["totals"]["issued"] == 300


def test_a_redelivered_batch_counts_nothing_again(stack, api, program):
    # Given an earn counted from the stream
    catch_up(stack)
    api.call("POST", f"{program['path']}/events", program["admin"], {"id": "s-1", "type": "signup", "member": "bo"})
    records = unread_records(stack)
    catch_up(stack)
    before = analytics(api, program, today())["totals"]
    # When Lambda delivers the same batch again (a retry after a timeout, a replayed shard)
    answer = invoke(stack, records)
    # Then it succeeds and adds nothing
    assert answer == {"batchItemFailures": []}
    assert analytics(api, program, today())["totals"] == before == {**before, "issued": 100, "enrolled": 1}


def test_after_its_retries_a_failing_batch_goes_to_the_dlq_with_where_it_is(stack, api, program, monkeypatch):
    # Given a record that always fails
    catch_up(stack)
    api.call("POST", f"{program['path']}/events", program["admin"], {"id": "bad", "type": "signup", "member": "cy"})

    def broken(change):
        raise RuntimeError("always")

    monkeypatch.setattr(aggregates, "count", broken)
    # When the stream is read
    catch_up(stack)
    # Then after its retries the batch's record info is in the on-failure destination, and the shard moved on
    trigger = analytics_stream(stack).trigger
    infos = [json.loads(m["Body"]) for m in stack.queue_messages(trigger.on_failure_queue_url)]
    assert any(i["requestContext"]["condition"] == "RetryAttemptsExhausted"
               and i["requestContext"]["approximateInvokeCount"] == trigger.max_retries + 1
               and i["DDBStreamBatchInfo"]["streamArn"] == trigger.stream_arn for i in infos)
    assert analytics_stream(stack).caught_up()


def unread_records(stack) -> list[dict]:
    poller = analytics_stream(stack)
    return [record for shard in poller._shards() for record in poller._unread(shard["ShardId"], limit=1000)]


def invoke(stack, records) -> dict:
    poller = analytics_stream(stack)
    return poller._invoke(lambda_runtime.stream_event(records, poller.trigger.stream_arn, "us-east-1"))
