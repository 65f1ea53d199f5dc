"""Acme Support's published policy sections: the demo's knowledge base (seeded as
knowledge items by context.demo) and the fixed knowledge tests give the reference agent.
Demo data, labelled as such; the reference agent itself knows nothing of them."""

from evals.reference_agent.knowledge import KnowledgeItem

ACME_POLICIES: tuple[KnowledgeItem, ...] = (
    KnowledgeItem(
        id="KB-refund-1.1",
        source="Refund policy",
        section="1.1",
        title="Who can get a refund",
        text=(
            "Orders bought directly from Acme are covered by this policy. Orders "
            "bought from a marketplace seller follow that seller's own policy."
        ),
        keywords=("eligible", "eligibility", "marketplace", "seller"),
    ),
    KnowledgeItem(
        id="KB-refund-2.1",
        source="Refund policy",
        section="2.1",
        title="Refund method and timing",
        text=(
            "Approved refunds go back to the original payment method within 5 to 10 business "
            "days after the returned item arrives at our warehouse and passes inspection."
        ),
        keywords=("how long", "money back", "bank", "card", "wait", "timing", "takes"),
    ),
    KnowledgeItem(
        id="KB-refund-3.2",
        source="Refund policy",
        section="3.2",
        title="Returning unopened items",
        text=(
            "Unopened items can be returned within 30 days of delivery for a full refund of "
            "the item price."
        ),
        keywords=("unopened", "sealed", "unused", "30 days", "full refund", "return"),
    ),
    KnowledgeItem(
        id="KB-refund-3.4",
        source="Refund policy",
        section="3.4",
        title="Returning opened or used items",
        text=(
            "Opened items can be returned within 14 days of delivery; a 15% restocking fee is "
            "deducted. Hygiene products cannot be returned once opened."
        ),
        keywords=("opened", "used", "restocking", "fee", "hygiene", "14 days", "return"),
    ),
    KnowledgeItem(
        id="KB-refund-4.1",
        source="Refund policy",
        section="4.1",
        title="Damaged or defective items",
        text=(
            "Report a damaged or defective item within 48 hours of delivery with a photo. We "
            "offer a replacement or a full refund including shipping; items under 50 EUR do "
            "not need to be sent back."
        ),
        keywords=("broken", "damaged", "defective", "faulty", "photo", "replacement", "arrived"),
    ),
    KnowledgeItem(
        id="KB-refund-5.1",
        source="Refund policy",
        section="5.1",
        title="Subscriptions and digital products",
        text=(
            "Subscriptions can be cancelled at any time; a cancellation within the first 14 "
            "days gives a pro-rata refund. Digital downloads are not refundable once "
            "downloaded."
        ),
        keywords=(
            "subscription",
            "cancel",
            "digital",
            "download",
            "licence",
            "license",
            "pro-rata",
        ),
    ),
    KnowledgeItem(
        id="KB-returns-1.2",
        source="Returns guide",
        section="1.2",
        title="How to start a return",
        text=(
            "Start a return in the returns portal with your order number. The portal gives you "
            "a prepaid label; drop the parcel at a carrier point within 7 days."
        ),
        keywords=("start", "portal", "label", "send back", "return"),
    ),
    KnowledgeItem(
        id="KB-returns-2.1",
        source="Returns guide",
        section="2.1",
        title="Return shipping costs",
        text=(
            "Returning a defective item is free. For other returns, 4.95 EUR of return "
            "shipping is deducted from the refund, except for Acme Plus members."
        ),
        keywords=("cost", "costs", "pay", "postage", "free", "plus", "member", "return shipping"),
    ),
    KnowledgeItem(
        id="KB-shipping-1.1",
        source="Shipping guide",
        section="1.1",
        title="Delivery times",
        text=(
            "Standard delivery within the EU takes 3 to 5 business days; express delivery "
            "takes 1 to 2 business days."
        ),
        keywords=("delivery", "deliver", "arrive", "express", "standard", "long", "ship"),
    ),
    KnowledgeItem(
        id="KB-shipping-2.3",
        source="Shipping guide",
        section="2.3",
        title="Lost or late parcels",
        text=(
            "If tracking has not changed for 7 days, we open an investigation with the "
            "carrier. Once the carrier confirms the loss we ship a replacement or refund the "
            "order."
        ),
        keywords=("lost", "late", "missing", "tracking", "parcel", "package", "never arrived"),
    ),
    KnowledgeItem(
        id="KB-shipping-3.1",
        source="Shipping guide",
        section="3.1",
        title="Changing the delivery address",
        text=(
            "The delivery address can be changed in your account until the order ships. After "
            "that, ask the carrier to redirect the parcel."
        ),
        keywords=("address", "change", "redirect", "wrong address", "moved"),
    ),
    KnowledgeItem(
        id="KB-account-1.1",
        source="Account help",
        section="1.1",
        title="Resetting your password",
        text=(
            "Use 'Forgot password' on the sign-in page; the reset link we email is valid for "
            "one hour."
        ),
        keywords=("password", "reset", "forgot", "login", "log in", "sign in", "locked"),
    ),
    KnowledgeItem(
        id="KB-account-2.2",
        source="Account help",
        section="2.2",
        title="Closing your account",
        text=(
            "You can close your account in its settings once open orders and returns are "
            "complete. Your personal data is deleted within 30 days."
        ),
        keywords=("close", "delete", "account", "gdpr", "personal data", "remove"),
    ),
)
