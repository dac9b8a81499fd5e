"""Accounts of the people who sign in to the server: passwords, second factors, invitations,
sessions, API tokens and the throttles on every credential check."""
