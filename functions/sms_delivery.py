"""SMS delivery through SNS, fed by the notifications topic through the SMS queue."""
from functions.delivery import consumer

handler = consumer("sms")
