"""bench/capacity.py against the DynamoDB Developer Guide's rules and worked examples.

Sources: "DynamoDB item sizes and formats", "DynamoDB read and write operations", the on-demand
pricing page (write request units) and "Global secondary indexes: provisioned throughput".
"""
import pytest

from bench.capacity import (
    KB,
    Index,
    attribute_size,
    index_write,
    item_size,
    number_size,
    read_units,
    value_size,
    write_units,
)

TABLE_KEYS = ("pk", "sk")


# --- item sizes: "DynamoDB item sizes and formats" ------------------------------------------

def test_a_string_is_its_name_and_value_in_utf8_bytes():
    # "é" is 2 bytes in UTF-8, "€" 3
    assert attribute_size("Id", {"S": "héllo"}) == 2 + 6
    assert attribute_size("prix", {"S": "5€"}) == 4 + 4


@pytest.mark.parametrize("text, size", [
    ("7", 2),  # 1 significant digit: 1 byte + 1
    ("12", 2),  # 2 digits share a byte
    ("123", 3),
    ("1000", 2),  # trailing zeros are trimmed
    ("0.00100", 2),  # leading and trailing zeros are trimmed
    ("123456789012345678901234567890123456789"[:38], 20),  # 38 digits, the most DynamoDB keeps
])
def test_a_number_takes_a_byte_per_two_significant_digits_plus_one(text, size):
    assert number_size(text) == size


def test_binary_counts_raw_bytes_null_and_boolean_one_byte():
    assert value_size({"B": b"\x00\x01\x02"}) == 3
    assert value_size({"B": "AAEC"}) == 3  # base64 as sent on the wire: still the raw length
    assert attribute_size("ok", {"BOOL": True}) == 2 + 1
    assert attribute_size("gone", {"NULL": True}) == 4 + 1


def test_lists_and_maps_cost_3_bytes_and_1_byte_per_element():
    # The size of an empty List or Map is (name) + 3 bytes
    assert attribute_size("tags", {"L": []}) == 4 + 3
    assert attribute_size("m", {"M": {}}) == 1 + 3
    # each element adds 1 byte besides its own size; a map's element also its key
    assert attribute_size("tags", {"L": [{"S": "ab"}, {"N": "7"}]}) == 4 + 3 + (1 + 2) + (1 + 2)
    assert attribute_size("m", {"M": {"k": {"S": "v"}, "n": {"L": []}}}) == 1 + 3 + (1 + 1 + 1) + (1 + 1 + 3)


def test_sets_are_the_sum_of_their_elements():
    assert value_size({"SS": ["ab", "c"]}) == 3
    assert value_size({"NS": ["12", "345"]}) == 2 + 3
    assert value_size({"BS": [b"ab", b"c"]}) == 3


def test_an_item_is_the_sum_of_its_attributes():
    item = {"pk": {"S": "MBR#p1#ada"}, "sk": {"S": "MEMBER"}, "available": {"N": "1250"},
            "active": {"BOOL": True}, "lots": {"L": [{"S": "2027-01-01"}]}}
    assert item_size(item) == (2 + 10) + (2 + 6) + (9 + 3) + (6 + 1) + (4 + 3 + 1 + 10)
    assert item_size(None) == item_size({}) == 0


# --- capacity units: "DynamoDB read and write operations" -----------------------------------

def test_reads_round_each_item_up_to_4_kb():
    # reading a 3,500-byte item consumes the same throughput as reading a 4 KB item
    assert read_units(3500, consistent=True) == 1
    assert read_units(3500, consistent=False) == 0.5
    # an 8 KB item: 2 units strongly consistent, 1 eventually consistent, 4 transactional
    assert read_units(8 * KB, consistent=True) == 2
    assert read_units(8 * KB, consistent=False) == 1
    assert read_units(8 * KB, consistent=True, transactional=True) == 4
    # GetItem of a 10 KB item rounds to 12 KB
    assert read_units(10 * KB, consistent=True) == 3
    # a read that finds nothing still costs the minimum
    assert read_units(0, consistent=True) == 1


def test_batch_get_rounds_each_item_but_query_rounds_the_sum():
    # BatchGetItem of a 1.5 KB and a 6.5 KB item counts 12 KB (4 KB + 8 KB), not 8 KB
    items = [int(1.5 * KB), int(6.5 * KB)]
    assert sum(read_units(size, consistent=True) for size in items) == 12 * KB / (4 * KB)
    # a Query returning 10 items of 40.8 KB in all rounds to 44 KB
    assert read_units(int(40.8 * KB), consistent=True) == 11
    assert read_units(int(40.8 * KB), consistent=False) == 5.5


def test_writes_round_up_to_1_kb_and_transactions_double():
    # writing a 500-byte item consumes the same throughput as writing a 1 KB item
    assert write_units(500) == 1
    # (pricing) a 1 KB write takes 1 unit, a 3 KB write 3, a transactional 3 KB write 6
    assert write_units(KB) == 1
    assert write_units(3 * KB) == 3
    assert write_units(3 * KB, transactional=True) == 6
    assert write_units(KB + 1) == 2


# --- global secondary indexes ----------------------------------------------------------------

GSI1 = Index("gsi1", ("gsi1pk", "gsi1sk"), "ALL")
GSI2 = Index("gsi2", ("gsi2pk", "gsi2sk"), "KEYS_ONLY")


def member(**extra):
    return {"pk": {"S": "MBR#p#ada"}, "sk": {"S": "MEMBER"}, "available": {"N": "10"},
            **{name: {"S": value} for name, value in extra.items()}}


def test_an_item_without_the_index_keys_costs_nothing_there():
    assert index_write(GSI2, TABLE_KEYS, member(), member()).units == 0
    assert index_write(GSI2, TABLE_KEYS, None, member()).units == 0


def test_gaining_losing_or_changing_index_keys_puts_deletes_or_both():
    due = member(gsi2pk="EXPIRY#2027-01-01#3", gsi2sk="MBR#p#ada")
    later = member(gsi2pk="EXPIRY#2027-02-01#3", gsi2sk="MBR#p#ada")
    assert (index_write(GSI2, TABLE_KEYS, member(), due).action, index_write(GSI2, TABLE_KEYS, member(), due).units) \
        == ("put", 1)
    assert index_write(GSI2, TABLE_KEYS, due, member()).action == "delete"
    changed = index_write(GSI2, TABLE_KEYS, due, later)
    assert (changed.action, changed.units) == ("delete+put", 2)


def test_a_keys_only_entry_is_untouched_by_other_attributes_an_all_entry_is_not():
    due = member(gsi2pk="EXPIRY#2027-01-01#3", gsi2sk="MBR#p#ada")
    richer = {**due, "available": {"N": "20"}}
    assert index_write(GSI2, TABLE_KEYS, due, richer).units == 0
    listed = member(gsi1pk="MBR#p#ada", gsi1sk="2026-01-01#txn")
    assert index_write(GSI1, TABLE_KEYS, listed, {**listed, "available": {"N": "20"}}).action == "update"


def test_the_projected_size_decides_the_index_units():
    # an ALL projection writes the whole item; KEYS_ONLY only the table and index keys
    big = member(gsi1pk="MBR#p#ada", gsi1sk="2026-01-01#txn", gsi2pk="EXPIRY#x", gsi2sk="MBR#p#ada",
                 result="x" * 1500)
    assert index_write(GSI1, TABLE_KEYS, None, big).units == 2
    assert index_write(GSI2, TABLE_KEYS, None, big).units == 1
    assert item_size(GSI2.entry(big, TABLE_KEYS)) == item_size(
        {name: big[name] for name in ("pk", "sk", "gsi2pk", "gsi2sk")})
