"""The one shape of every refusal in the domain: a machine-readable reason, a detail for people."""


class Refusal(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


class FieldRefusal(Refusal, ValueError):
    """Input refused because of one of its fields; `field` names it (a form shows the words there)."""

    def __init__(self, reason: str, field: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.field = field
