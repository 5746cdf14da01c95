"""SMS delivery through SNS, fed by the notifications topic through the SMS queue."""
from functions.channel_consumer import consumer

handler = consumer("sms")
