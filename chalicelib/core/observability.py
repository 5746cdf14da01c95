"""One place for logging: structured JSON through Powertools, ids only, never a body, address or code."""
import os

from aws_lambda_powertools.logging import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "laurel"))
