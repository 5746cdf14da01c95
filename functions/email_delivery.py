"""Email delivery through SES, fed by the notifications topic through the email queue."""
from functions.channel_consumer import consumer

handler = consumer("email")
