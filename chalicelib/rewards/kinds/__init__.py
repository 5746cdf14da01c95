"""One module per reward kind (gift card, cashback, points transfer, merchandise, experience, donation), each one
class behind one interface (base.Kind), found by its `KIND` through one registry (registry.py)."""
