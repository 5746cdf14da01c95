"""The words of a redemption's life, apart from the code that moves it (lifecycle.py): the request and answer
shapes and the API name them without loading the domain."""

# Every status a redemption may be in (shapes.Redemption's, and a member's list's `?status=`).
STATUSES = ("pending", "fulfilled", "failed", "cancelled", "awaiting_approval", "rejected", "processing", "shipped",
            "delivered", "returned")
DECIDED = ("rejected", "cancelled")  # statuses an admin chose, shown with their reason
FINAL = ("fulfilled", "failed", "rejected", "cancelled")  # the statuses a member is told of

# The statuses a program lists its redemptions by, each a sparse gsi3 partition written with the move into it:
# the approval queue and the merchandise waiting to ship. Each: (the partition's prefix, the scope its list's
# cursors are bound to, so a cursor of one queue serves it alone).
QUEUES = {"awaiting_approval": ("APPROVAL", "approvals"), "processing": ("SHIP", "shipments")}
