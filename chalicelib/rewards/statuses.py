"""The words of a redemption's life, apart from the code that moves it: the request and answer shapes
name them without loading the domain."""

# Every status a redemption may be in (shapes.Redemption's, and a member's list's `?status=`).
STATUSES = ("pending", "fulfilled", "failed", "cancelled", "awaiting_approval", "rejected", "processing", "shipped",
            "delivered", "returned")
DECIDED = ("rejected", "cancelled")  # statuses an admin chose, shown with their reason
