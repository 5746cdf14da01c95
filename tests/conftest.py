"""Settings every test tier shares, set before any Laurel module is imported."""
import os

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "LAUREL_TABLE": "laurel-Table", "LAUREL_SIGNING_KEY": "test-signing-key-0123456789abcdef0123456789",
    "LAUREL_ROOT_KEY": "test-root-key", "LAUREL_VALIDATE_ANSWERS": "1", "POWERTOOLS_SERVICE_NAME": "laurel-test",
})
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("LAUREL_ROOT_KEY_HASH", None)
