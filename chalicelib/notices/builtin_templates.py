"""The messages Laurel sends when a program has not written its own: English, Italian and Spanish.

Per language and kind: the email's subject and text, and the SMS. The email's HTML is made from
its text (one paragraph per line). An SMS names the gift-card code on its first line, so cutting
a long message to its segment limit never cuts the code. Also here: the words around the
templates (redemption statuses, the unsubscribe footer and page) in the same languages.
"""
import html

LANGUAGES = ("en", "it", "es")

TEMPLATES = {
    "en": {
        "welcome": {
            "subject": "Welcome to {program}",
            "text": "Hi {name},\nwelcome to {program}! You earn {currency} as you go and spend them on rewards.\n"
                    "See you soon!",
            "sms": "Welcome to {program}! You now earn {currency} and can spend them on rewards."},
        "points_earned": {
            "subject": "You earned {points} {currency}",
            "text": "Hi {name},\nyou just earned {points} {currency}. Your balance is now {balance} {currency}.",
            "sms": "{program}: you earned {points} {currency}. Balance: {balance}."},
        "reward_delivered": {
            "subject": "Your reward is here: {reward}",
            "text": "Hi {name},\nyour reward \"{reward}\" has been delivered.\nYour code: {code}",
            "sms": "Code: {code}\n{program}: your reward \"{reward}\" has been delivered."},
        "redemption_status": {
            "subject": "News about your reward: {reward}",
            "text": "Hi {name},\nyour redemption of \"{reward}\" {status}.",
            "sms": "{program}: your redemption of \"{reward}\" {status}."},
        "donation_receipt": {
            "subject": "Thank you for your donation to {charity}",
            "text": "Hi {name},\nthank you: your donation of {points} {currency} to {charity} has been made.\n"
                    "Keep this message as your receipt.",
            "sms": "{program}: thank you, your donation of {points} {currency} to {charity} has been made."},
        "tier_up": {
            "subject": "You reached {tier}!",
            "text": "Hi {name},\ncongratulations: you are now {tier} in {program}.\n"
                    "Keep earning {currency} to enjoy it.",
            "sms": "{program}: congratulations, you reached {tier}!"},
        "tier_down": {
            "subject": "Your tier in {program} has changed",
            "text": "Hi {name},\nyour {previous_tier} status in {program} has ended.\nYour tier is now {tier}.\n"
                    "Earn more {currency} to move up again.",
            "sms": "{program}: your {previous_tier} status has ended. Earn more {currency} to move up again."},
        "points_expiring": {
            "subject": "{points} {currency} expire on {day}",
            "text": "Hi {name},\n{points} of your {currency} expire on {day}. Use them before then!",
            "sms": "{program}: {points} {currency} expire on {day}. Use them before then!"},
        "campaign_announcement": {
            "subject": "{title}",
            "text": "Hi {name},\n{body}",
            "sms": "{program}: {title}\n{body}"},
    },
    "it": {
        "welcome": {
            "subject": "Benvenuto in {program}",
            "text": "Ciao {name},\nbenvenuto in {program}! Accumuli {currency} e li usi per i premi.\nA presto!",
            "sms": "Benvenuto in {program}! Ora accumuli {currency} e li usi per i premi."},
        "points_earned": {
            "subject": "Hai guadagnato {points} {currency}",
            "text": "Ciao {name},\nhai appena guadagnato {points} {currency}. Il tuo saldo è di {balance} {currency}.",
            "sms": "{program}: hai guadagnato {points} {currency}. Saldo: {balance}."},
        "reward_delivered": {
            "subject": "Il tuo premio è arrivato: {reward}",
            "text": "Ciao {name},\nil tuo premio \"{reward}\" è stato consegnato.\nIl tuo codice: {code}",
            "sms": "Codice: {code}\n{program}: il tuo premio \"{reward}\" è stato consegnato."},
        "redemption_status": {
            "subject": "Novità sul tuo premio: {reward}",
            "text": "Ciao {name},\nla tua richiesta del premio \"{reward}\" {status}.",
            "sms": "{program}: la tua richiesta del premio \"{reward}\" {status}."},
        "donation_receipt": {
            "subject": "Grazie per la tua donazione a {charity}",
            "text": "Ciao {name},\ngrazie: la tua donazione di {points} {currency} a {charity} è stata effettuata.\n"
                    "Conserva questo messaggio come ricevuta.",
            "sms": "{program}: grazie, la tua donazione di {points} {currency} a {charity} è stata effettuata."},
        "tier_up": {
            "subject": "Hai raggiunto il livello {tier}!",
            "text": "Ciao {name},\ncomplimenti: ora sei {tier} in {program}.\nContinua ad accumulare {currency}.",
            "sms": "{program}: complimenti, hai raggiunto il livello {tier}!"},
        "tier_down": {
            "subject": "Il tuo livello in {program} è cambiato",
            "text": "Ciao {name},\nil tuo livello {previous_tier} in {program} è terminato.\n"
                    "Ora il tuo livello è {tier}.\nAccumula altri {currency} per risalire.",
            "sms": "{program}: il tuo livello {previous_tier} è terminato. Accumula altri {currency} per risalire."},
        "points_expiring": {
            "subject": "{points} {currency} scadono il {day}",
            "text": "Ciao {name},\n{points} dei tuoi {currency} scadono il {day}. Usali prima di allora!",
            "sms": "{program}: {points} {currency} scadono il {day}. Usali prima di allora!"},
        "campaign_announcement": {
            "subject": "{title}",
            "text": "Ciao {name},\n{body}",
            "sms": "{program}: {title}\n{body}"},
    },
    "es": {
        "welcome": {
            "subject": "Te damos la bienvenida a {program}",
            "text": "Hola {name}:\n¡te damos la bienvenida a {program}! Acumulas {currency} y los canjeas por "
                    "recompensas.\n¡Hasta pronto!",
            "sms": "¡Te damos la bienvenida a {program}! Ya acumulas {currency} para canjearlos por recompensas."},
        "points_earned": {
            "subject": "Has ganado {points} {currency}",
            "text": "Hola {name}:\nacabas de ganar {points} {currency}. Tu saldo es ahora de {balance} {currency}.",
            "sms": "{program}: has ganado {points} {currency}. Saldo: {balance}."},
        "reward_delivered": {
            "subject": "Tu recompensa ha llegado: {reward}",
            "text": "Hola {name}:\ntu recompensa \"{reward}\" ha sido entregada.\nTu código: {code}",
            "sms": "Código: {code}\n{program}: tu recompensa \"{reward}\" ha sido entregada."},
        "redemption_status": {
            "subject": "Novedades sobre tu recompensa: {reward}",
            "text": "Hola {name}:\ntu canje de \"{reward}\" {status}.",
            "sms": "{program}: tu canje de \"{reward}\" {status}."},
        "donation_receipt": {
            "subject": "Gracias por tu donación a {charity}",
            "text": "Hola {name},\ngracias: tu donación de {points} {currency} a {charity} se ha realizado.\n"
                    "Guarda este mensaje como recibo.",
            "sms": "{program}: gracias, tu donación de {points} {currency} a {charity} se ha realizado."},
        "tier_up": {
            "subject": "¡Has alcanzado el nivel {tier}!",
            "text": "Hola {name}:\nenhorabuena, ahora eres {tier} en {program}.\nSigue acumulando {currency}.",
            "sms": "{program}: ¡enhorabuena, has alcanzado el nivel {tier}!"},
        "tier_down": {
            "subject": "Tu nivel en {program} ha cambiado",
            "text": "Hola {name}:\ntu nivel {previous_tier} en {program} ha terminado.\nTu nivel es ahora {tier}.\n"
                    "Acumula más {currency} para volver a subir.",
            "sms": "{program}: tu nivel {previous_tier} ha terminado. Acumula más {currency} para volver a subir."},
        "points_expiring": {
            "subject": "{points} {currency} caducan el {day}",
            "text": "Hola {name}:\n{points} de tus {currency} caducan el {day}. ¡Úsalos antes!",
            "sms": "{program}: {points} {currency} caducan el {day}. ¡Úsalos antes!"},
        "campaign_announcement": {
            "subject": "{title}",
            "text": "Hola {name}:\n{body}",
            "sms": "{program}: {title}\n{body}"},
    },
}

# The `{status}` of redemption_status, itself a template with the kind's values.
STATUSES = {
    "en": {"fulfilled": "is complete", "failed": "could not be completed, so your {currency} have been given back",
           "cancelled": "was cancelled, so your {currency} have been given back",
           "rejected": "was not approved, so your {currency} have been given back"},
    "it": {"fulfilled": "è completata", "failed": "non è andata a buon fine: i tuoi {currency} ti sono stati restituiti",
           "cancelled": "è stata annullata: i tuoi {currency} ti sono stati restituiti",
           "rejected": "non è stata approvata: i tuoi {currency} ti sono stati restituiti"},
    "es": {"fulfilled": "se ha completado", "failed": "no se ha podido completar: te hemos devuelto tus {currency}",
           "cancelled": "se ha cancelado: te hemos devuelto tus {currency}",
           "rejected": "no ha sido aprobado: te hemos devuelto tus {currency}"},
}

# Added below every marketing email, whatever its template: `{url}` is the member's unsubscribe link.
FOOTERS = {
    "en": ("You receive this as a member of {program}.", "Unsubscribe from these emails", "Unsubscribe: {url}"),
    "it": ("Ricevi questo messaggio come membro di {program}.", "Non ricevere più queste email",
           "Annulla l'iscrizione: {url}"),
    "es": ("Recibes este mensaje como miembro de {program}.", "Dejar de recibir estos correos",
           "Darse de baja: {url}"),
}

# The unsubscribe link's page: the question and its button, then the answer.
PAGES = {
    "en": ("Stop promotional emails from {program}?", "Unsubscribe",
           "Done: {program} will no longer send you promotional emails."),
    "it": ("Non ricevere più email promozionali da {program}?", "Annulla l'iscrizione",
           "Fatto: {program} non ti invierà più email promozionali."),
    "es": ("¿Dejar de recibir correos promocionales de {program}?", "Darse de baja",
           "Listo: {program} ya no te enviará correos promocionales."),
}


def language(locale: str | None) -> str:
    """The built-in language closest to a locale (English when there is none)."""
    base = (locale or "en").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


def html_of(text: str) -> str:
    """An HTML template with one paragraph per line of a text template (its placeholders kept)."""
    paragraphs = "\n".join(f"<p>{html.escape(line, quote=False)}</p>" for line in text.split("\n"))
    return f'<!doctype html>\n<html>\n<body style="font-family: sans-serif">\n{paragraphs}\n</body>\n</html>'


def template(kind: str, lang: str) -> dict:
    """The built-in template of a kind in one of LANGUAGES, per channel."""
    words = TEMPLATES[lang][kind]
    return {"email": {"subject": words["subject"], "html": html_of(words["text"]), "text": words["text"]},
            "sms": {"text": words["sms"]}}
