"""Email delivery through SES, fed by the notifications topic through the email queue."""
from functions.delivery import consumer

handler = consumer("email")
