from allauth.account.adapter import DefaultAccountAdapter


class ClosedSignupAccountAdapter(DefaultAccountAdapter):
    """Accounts are created by curators (``add_member``), never by open sign-up."""

    def is_open_for_signup(self, request) -> bool:  # noqa: ANN001
        return False
