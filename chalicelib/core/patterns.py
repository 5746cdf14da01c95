"""The text formats of the wire (ids, emails, phones, time zones) as plain patterns, apart from the shapes
that enforce them, so a handler that normalises a value (a lookup by email or phone) imports no pydantic."""

EXTERNAL_ID = r"^[A-Za-z0-9._\-:@]{1,128}$"
EMAIL = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
E164 = r"^\+[1-9][0-9]{6,14}$"
TIMEZONE = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$"
