"""One module per reward kind (gift card, points transfer, merchandise, experience, donation)."""
